/* The default exception handler's text: the message (or 'Unhandled
 * exception in event loop' when it is missing or empty), then one
 * 'key: repr(value)' line per other key in sorted order ('message' and
 * 'exception' are not listed: the exception goes to the record's
 * exc_info); a failing custom handler's report lists the original context
 * as 'context: {...}' (a dict repr in insertion order). Whole texts are
 * compared here, for contexts whose values print the same in C and Python.
 * Extra keys carry their values already repr()'d. */
#include "conformance.h"

static void printer(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)arg;
    printf("record: %s exc_info: %s\n", level_name(level), exc ? aio_exc_type_of(exc)->name : "None");
    for (const char *line = message;; line++) {
        size_t n = strcspn(line, "\n");
        printf("  | %.*s\n", (int)n, line);
        line += n;
        if (*line == '\0')
            break;
    }
}
AIO_NAME_CALLBACK(printer);

static void failing(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)context, (void)arg;
    aio_err_set(aio_RuntimeError, "handler broke");
}
AIO_NAME_CALLBACK(failing);

#define EXTRA(items) .extra = (items), .extra_len = sizeof(items) / sizeof((items)[0])

int main(void)
{
    aio_log_set_handler(printer, NULL);
    aio_loop *loop = aio_new_event_loop();
    CHECK(loop);
    aio_exc *k = aio_exc_new(aio_KeyError, "k");
    aio_exc *v = aio_exc_new(aio_ValueError, "it's");

    const aio_context_item hello[] = {{"zeta", "1"}, {"alpha", "'x'"}};
    CHECK(aio_loop_default_exception_handler(loop, &(aio_exception_context){.message = "hello", EXTRA(hello)}) == 0);
    CHECK(aio_loop_default_exception_handler(loop, &(aio_exception_context){.message = "with exception", .exception = k}) == 0);
    const aio_context_item mixed[] = {{"zeta", "[1, 2]"}, {"_under", "None"}, {"Zed", "'z'"}, {"alpha", "1.5"}};
    CHECK(aio_loop_default_exception_handler(loop, &(aio_exception_context){EXTRA(mixed)}) == 0);
    const aio_context_item beta[] = {{"beta", "\"it's\""}};
    CHECK(aio_loop_default_exception_handler(loop, &(aio_exception_context){.message = "", EXTRA(beta)}) == 0);
    const aio_context_item gamma[] = {{"gamma", "True"}};
    CHECK(aio_loop_default_exception_handler(loop, &(aio_exception_context){.message = "two\nlines", EXTRA(gamma)}) == 0);

    aio_loop_set_exception_handler(loop, failing, NULL);
    const aio_context_item alpha[] = {{"alpha", "'x'"}};
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "direct call", EXTRA(alpha)}) == 0);
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "with exception", .exception = k}) == 0);
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "with exception", .exception = v}) == 0);
    aio_decref(k);
    aio_decref(v);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
