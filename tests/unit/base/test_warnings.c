/* test_warnings.c - Python's warnings: actions per category, shown once by
 * default, raised under AIO_WARN_ERROR, a handler for what is shown. */
#include "test_support.h"

static const aio_exc_type MyDeprecation[1] = {{"MyDeprecation", "__main__", aio_DeprecationWarning, NULL}};

typedef struct shown_log {
    pthread_mutex_t lock;
    int count;
    char last[1024];
    const aio_exc_type *last_category;
} shown_log;

static shown_log log_ = {PTHREAD_MUTEX_INITIALIZER, 0, "", NULL};

static void capture(const aio_exc_type *category, const char *message, void *arg)
{
    shown_log *log = arg;
    pthread_mutex_lock(&log->lock);
    log->count++;
    snprintf(log->last, sizeof log->last, "%s", message);
    log->last_category = category;
    pthread_mutex_unlock(&log->lock);
}
AIO_NAME_CALLBACK(capture);

static int setup(void **state)
{
    (void)state;
    log_.count = 0;
    log_.last[0] = '\0';
    log_.last_category = NULL;
    aio_warnings_set_handler(capture, &log_);
    return aio_warnings_set_action(NULL, AIO_WARN_DEFAULT);
}

static int teardown(void **state)
{
    (void)state;
    aio_warnings_set_handler(NULL, NULL);
    return aio_warnings_set_action(NULL, AIO_WARN_DEFAULT);
}

static void test_default_shows_each_message_once(void **state)
{
    (void)state;
    assert_int_equal(aio_warn(aio_DeprecationWarning, "old"), 0);
    assert_int_equal(log_.count, 1);
    assert_string_equal(log_.last, "old");
    assert_ptr_equal(log_.last_category, aio_DeprecationWarning);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "old"), 0);
    assert_int_equal(log_.count, 1);
    /* Another text, or the same text in another category, is another message. */
    assert_int_equal(aio_warn(aio_DeprecationWarning, "older"), 0);
    assert_int_equal(log_.count, 2);
    assert_int_equal(aio_warn(aio_RuntimeWarning, "old"), 0);
    assert_int_equal(log_.count, 3);
    assert_ptr_equal(log_.last_category, aio_RuntimeWarning);
    assert_int_equal(aio_warn_format(aio_RuntimeWarning, "o%s", "ld"), 0);
    assert_int_equal(log_.count, 3);
    assert_no_leaks();
}

static void test_always_ignore_error(void **state)
{
    (void)state;
    assert_int_equal(aio_warnings_set_action(aio_UserWarning, AIO_WARN_ALWAYS), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(aio_warn(aio_UserWarning, "again"), 0);
    assert_int_equal(log_.count, 3);

    assert_int_equal(aio_warnings_set_action(aio_UserWarning, AIO_WARN_IGNORE), 0);
    assert_int_equal(aio_warn(aio_UserWarning, "dropped"), 0);
    assert_int_equal(log_.count, 3);

    assert_int_equal(aio_warnings_set_action(aio_UserWarning, AIO_WARN_ERROR), 0);
    assert_int_equal(aio_warn(aio_UserWarning, "raised"), -1);
    assert_raised(aio_UserWarning, "raised");
    assert_int_equal(aio_warn_format(aio_UserWarning, "raised %d", 2), -1);
    aio_exc *exc = aio_err_fetch();
    assert_ptr_equal(aio_exc_type_of(exc), aio_UserWarning);
    assert_string_equal(aio_exc_str(exc), "raised 2");
    aio_decref(exc);
    assert_int_equal(log_.count, 3);
    /* Other categories keep the default. */
    assert_int_equal(aio_warn(aio_RuntimeWarning, "shown"), 0);
    assert_int_equal(log_.count, 4);
    assert_no_leaks();
}

static void test_subclasses_follow_their_category(void **state)
{
    (void)state;
    assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_ERROR), 0);
    assert_int_equal(aio_warn(aio_ResourceWarning, "r"), -1);
    assert_raised(aio_ResourceWarning, "r");
    assert_int_equal(aio_warn(MyDeprecation, "mine"), -1);
    aio_exc *exc = aio_err_fetch();
    assert_ptr_equal(aio_exc_type_of(exc), MyDeprecation);
    assert_true(aio_exc_isinstance(exc, aio_DeprecationWarning));
    aio_decref(exc);

    /* A subclass's action does not reach its base. */
    assert_int_equal(aio_warnings_set_action(MyDeprecation, AIO_WARN_IGNORE), 0);
    assert_int_equal(aio_warn(MyDeprecation, "mine"), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "base"), -1);
    assert_raised(aio_DeprecationWarning, "base");
    assert_int_equal(log_.count, 0);
    assert_no_leaks();
}

static void test_most_recent_setting_wins(void **state)
{
    (void)state;
    assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_ERROR), 0);
    assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_ALWAYS), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "d"), 0);
    assert_int_equal(aio_warn(MyDeprecation, "d"), 0);
    assert_int_equal(log_.count, 2);
    assert_int_equal(aio_warn(aio_RuntimeWarning, "r"), -1);
    assert_raised(aio_RuntimeWarning, "r");

    /* Setting Warning again puts it before DeprecationWarning. */
    assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_IGNORE), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "d"), 0);
    assert_int_equal(aio_warn(aio_RuntimeWarning, "r"), 0);
    assert_int_equal(log_.count, 2);
    assert_int_equal(aio_warnings_set_action(aio_DeprecationWarning, AIO_WARN_ERROR), 0);
    assert_int_equal(aio_warn(MyDeprecation, "d"), -1);
    assert_raised(MyDeprecation, "d");
    assert_int_equal(aio_warn(aio_UserWarning, "u"), 0);
    assert_int_equal(log_.count, 2);
    assert_no_leaks();
}

static void test_reset_forgets_actions_and_shown(void **state)
{
    (void)state;
    assert_int_equal(aio_warn(aio_DeprecationWarning, "once"), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "once"), 0);
    assert_int_equal(log_.count, 1);
    assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_ERROR), 0);
    assert_int_equal(aio_warnings_set_action(NULL, AIO_WARN_DEFAULT), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "once"), 0);
    assert_int_equal(log_.count, 2);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "once"), 0);
    assert_int_equal(log_.count, 2);
    /* Any change of action shows the default's messages once more, as a
     * change of Python's filters does. */
    assert_int_equal(aio_warnings_set_action(aio_UserWarning, AIO_WARN_IGNORE), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "once"), 0);
    assert_int_equal(log_.count, 3);
    assert_no_leaks();
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(aio_warn(NULL, "x"), -1);
    assert_raised(aio_TypeError, "category must be a Warning subclass, not NULL");
    assert_int_equal(aio_warn(aio_ValueError, "x"), -1);
    assert_raised(aio_TypeError, "category must be a Warning subclass, not ValueError");
    assert_int_equal(aio_warn(aio_UserWarning, NULL), -1);
    assert_raised(aio_TypeError, "message must not be NULL");
    assert_int_equal(aio_warn_format(aio_Exception, "%d", 1), -1);
    assert_raised(aio_TypeError, "category must be a Warning subclass, not Exception");
    assert_int_equal(aio_warnings_set_action(aio_RuntimeError, AIO_WARN_IGNORE), -1);
    assert_raised(aio_TypeError, "category must be a Warning subclass, not RuntimeError");
    assert_int_equal(aio_warnings_set_action(aio_Warning, (aio_warning_action)7), -1);
    assert_raised(aio_ValueError, "invalid warning action 7");
    assert_int_equal(aio_warnings_set_action(aio_Warning, (aio_warning_action)-1), -1);
    assert_raised(aio_ValueError, "invalid warning action -1");
    assert_int_equal(log_.count, 0);
    assert_no_leaks();
}

static void test_default_handler_writes_stderr(void **state)
{
    (void)state;
    aio_warnings_set_handler(NULL, NULL);
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "There is no current event loop"), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "There is no current event loop"), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[256] = "";
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    assert_string_equal(buf, "casyncio: DeprecationWarning: There is no current event loop\n");
    assert_int_equal(log_.count, 0);
    assert_no_leaks();
}

static void test_long_formatted_message(void **state)
{
    (void)state;
    char part[700];
    memset(part, 'x', sizeof part - 1);
    part[sizeof part - 1] = '\0';
    assert_int_equal(aio_warn_format(aio_UserWarning, "<%s>", part), 0);
    assert_int_equal(strlen(log_.last), 701);
    assert_int_equal(log_.last[0], '<');
    assert_int_equal(log_.last[700], '>');
    /* Without memory, it goes out cut short. */
    aio__fail_alloc_after = 0;
    assert_int_equal(aio_warn_format(aio_RuntimeWarning, "<%s>", part), 0);
    aio__fail_alloc_after = -1;
    assert_int_equal(log_.count, 2);
    assert_int_equal(strlen(log_.last), 511);
    assert_null(aio_err_occurred());
    assert_no_leaks();
}

static void test_out_of_memory_shows_again(void **state)
{
    (void)state;
    /* The caller's exception survives a warning. */
    aio_err_set(aio_ValueError, "kept");
    for (long after = 0; after < 2; after++) {
        aio__fail_alloc_after = after;
        assert_int_equal(aio_warn(aio_DeprecationWarning, "unrecorded"), 0);
        aio__fail_alloc_after = -1;
        assert_int_equal(log_.count, (int)after + 1);
    }
    assert_raised(aio_ValueError, "kept");
    /* Recorded once memory is back. */
    assert_int_equal(aio_warn(aio_DeprecationWarning, "unrecorded"), 0);
    assert_int_equal(aio_warn(aio_DeprecationWarning, "unrecorded"), 0);
    assert_int_equal(log_.count, 3);
    /* An error warning replaces the caller's exception, as Python's does. */
    assert_int_equal(aio_warnings_set_action(aio_Warning, AIO_WARN_ERROR), 0);
    aio_err_set(aio_KeyError, "replaced");
    assert_int_equal(aio_warn(aio_UserWarning, "u"), -1);
    assert_raised(aio_UserWarning, "u");
    assert_no_leaks();
}

static void test_shown_registry_is_bounded(void **state)
{
    (void)state;
    assert_int_equal(aio_warn(aio_UserWarning, "first"), 0);
    assert_int_equal(aio_warn(aio_UserWarning, "first"), 0);
    assert_int_equal(log_.count, 1);
    for (int i = 0; i < 1023; i++)
        assert_int_equal(aio_warn_format(aio_UserWarning, "message %d", i), 0);
    assert_int_equal(log_.count, 1024);
    assert_int_equal(aio_warn(aio_UserWarning, "first"), 0); /* still remembered */
    assert_int_equal(log_.count, 1024);
    /* The 1025th message empties the registry: "first" shows again. */
    assert_int_equal(aio_warn(aio_UserWarning, "one more"), 0);
    assert_int_equal(aio_warn(aio_UserWarning, "first"), 0);
    assert_int_equal(log_.count, 1026);
    assert_int_equal(aio_warn(aio_UserWarning, "one more"), 0);
    assert_int_equal(log_.count, 1026);
    assert_no_leaks();
}

#define THREADS 4
#define MESSAGES 200

static void *warn_many(void *arg)
{
    int rounds = *(int *)arg;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < MESSAGES; i++) {
            if (aio_warn_format(aio_DeprecationWarning, "message %d", i) != 0)
                return "failed";
        }
    }
    return NULL;
}

static void *toggle_actions(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        if (aio_warnings_set_action(aio_RuntimeWarning, i % 2 ? AIO_WARN_IGNORE : AIO_WARN_ALWAYS) < 0)
            return "failed";
        aio_warnings_set_handler(capture, &log_);
        if (aio_warn(aio_RuntimeWarning, "toggled") != 0)
            return "failed";
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    /* Every thread warns the same messages: each shows once in all. */
    pthread_t t[THREADS];
    int rounds = 3;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, warn_many, &rounds), 0);
    for (int i = 0; i < THREADS; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    assert_int_equal(log_.count, MESSAGES);

    /* And while others change the actions and the handler. */
    pthread_t toggler;
    assert_int_equal(pthread_create(&toggler, NULL, toggle_actions, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, warn_many, &rounds), 0);
    for (int i = 0; i < THREADS; i++) {
        void *res;
        pthread_join(t[i], &res);
        assert_null(res);
    }
    void *res;
    pthread_join(toggler, &res);
    assert_null(res);
    assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_default_shows_each_message_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_always_ignore_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_subclasses_follow_their_category, setup, teardown),
    cmocka_unit_test_setup_teardown(test_most_recent_setting_wins, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reset_forgets_actions_and_shown, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    cmocka_unit_test_setup_teardown(test_default_handler_writes_stderr, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_formatted_message, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_memory_shows_again, setup, teardown),
    cmocka_unit_test_setup_teardown(test_shown_registry_is_bounded, setup, teardown),
    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
};

AIO_TEST_MAIN(tests)
