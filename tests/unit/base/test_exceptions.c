/* test_exceptions.c - the exception hierarchy, exception objects, the
 * thread's current exception and how exceptions print.
 *
 * Expected texts are what CPython 3.11 prints for the same exceptions
 * (str(), repr(), traceback.print_exception() of an exception that was
 * never raised, so it has no traceback lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "test_support.h"

/* User-defined exception types, as the header describes them. */
static const aio_exc_type MyError[1] = {{"MyError", "__main__", aio_Exception, NULL}};
static const aio_exc_type MyChildError[1] = {{"MyChildError", "__main__", MyError, NULL}};
static const aio_exc_type LibError[1] = {{"LibError", "mylib.errors", aio_ValueError, NULL}};
static const aio_exc_type BothError[1] = {{"BothError", "__main__", aio_KeyError, aio_OSError}};

/* --- The hierarchy -------------------------------------------------------- */

static void test_hierarchy_builtin(void **state)
{
    (void)state;
    /* ConnectionRefusedError < ConnectionError < OSError < Exception < BaseException */
    assert_true(aio_exc_type_is_subclass(aio_ConnectionRefusedError, aio_ConnectionRefusedError));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionRefusedError, aio_ConnectionError));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionRefusedError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionRefusedError, aio_Exception));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionRefusedError, aio_BaseException));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionError, aio_OSError));
    assert_false(aio_exc_type_is_subclass(aio_ConnectionError, aio_ConnectionRefusedError));
    assert_false(aio_exc_type_is_subclass(aio_OSError, aio_ConnectionError));
    assert_false(aio_exc_type_is_subclass(aio_Exception, aio_OSError));
    assert_false(aio_exc_type_is_subclass(aio_BaseException, aio_Exception));

    assert_true(aio_exc_type_is_subclass(aio_BrokenPipeError, aio_ConnectionError));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionResetError, aio_ConnectionError));
    assert_true(aio_exc_type_is_subclass(aio_ConnectionAbortedError, aio_ConnectionError));
    assert_false(aio_exc_type_is_subclass(aio_BrokenPipeError, aio_ConnectionResetError));
    assert_true(aio_exc_type_is_subclass(aio_BlockingIOError, aio_OSError));
    assert_false(aio_exc_type_is_subclass(aio_BlockingIOError, aio_ConnectionError));
    assert_true(aio_exc_type_is_subclass(aio_FileNotFoundError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_InterruptedError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_PermissionError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_ProcessLookupError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_ChildProcessError, aio_OSError));

    /* TimeoutError is OSError's subclass (asyncio.TimeoutError is it in 3.11). */
    assert_true(aio_exc_type_is_subclass(aio_TimeoutError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_TimeoutError, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_TimeoutError, aio_ConnectionError));

    /* NotImplementedError and RecursionError < RuntimeError */
    assert_true(aio_exc_type_is_subclass(aio_NotImplementedError, aio_RuntimeError));
    assert_true(aio_exc_type_is_subclass(aio_RecursionError, aio_RuntimeError));
    assert_false(aio_exc_type_is_subclass(aio_RuntimeError, aio_NotImplementedError));

    assert_true(aio_exc_type_is_subclass(aio_KeyError, aio_LookupError));
    assert_true(aio_exc_type_is_subclass(aio_IndexError, aio_LookupError));
    assert_false(aio_exc_type_is_subclass(aio_KeyError, aio_IndexError));
    assert_true(aio_exc_type_is_subclass(aio_ZeroDivisionError, aio_ArithmeticError));
    assert_true(aio_exc_type_is_subclass(aio_OverflowError, aio_ArithmeticError));
    assert_true(aio_exc_type_is_subclass(aio_ResourceWarning, aio_Warning));
    assert_true(aio_exc_type_is_subclass(aio_DeprecationWarning, aio_Warning));
    assert_true(aio_exc_type_is_subclass(aio_Warning, aio_Exception));

    /* SystemExit, KeyboardInterrupt and GeneratorExit are not Exceptions. */
    assert_true(aio_exc_type_is_subclass(aio_SystemExit, aio_BaseException));
    assert_false(aio_exc_type_is_subclass(aio_SystemExit, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_KeyboardInterrupt, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_GeneratorExit, aio_Exception));
    assert_true(aio_exc_type_is_subclass(aio_StopIteration, aio_Exception));
    assert_true(aio_exc_type_is_subclass(aio_MemoryError, aio_Exception));
}

static void test_hierarchy_asyncio_socket_ssl(void **state)
{
    (void)state;
    /* CancelledError is a BaseException, not an Exception, since 3.8. */
    assert_true(aio_exc_type_is_subclass(aio_CancelledError, aio_BaseException));
    assert_false(aio_exc_type_is_subclass(aio_CancelledError, aio_Exception));
    assert_true(aio_exc_type_is_subclass(aio_InvalidStateError, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_InvalidStateError, aio_RuntimeError));
    assert_true(aio_exc_type_is_subclass(aio_SendfileNotAvailableError, aio_RuntimeError));
    assert_true(aio_exc_type_is_subclass(aio_IncompleteReadError, aio_EOFError));
    assert_true(aio_exc_type_is_subclass(aio_LimitOverrunError, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_LimitOverrunError, aio_EOFError));

    assert_true(aio_exc_type_is_subclass(aio_socket_gaierror, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_socket_herror, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_SSLError, aio_OSError));
    /* SSLCertVerificationError derives from both SSLError and ValueError. */
    assert_true(aio_exc_type_is_subclass(aio_SSLCertVerificationError, aio_SSLError));
    assert_true(aio_exc_type_is_subclass(aio_SSLCertVerificationError, aio_ValueError));
    assert_true(aio_exc_type_is_subclass(aio_SSLCertVerificationError, aio_OSError));
    assert_true(aio_exc_type_is_subclass(aio_SSLCertVerificationError, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_SSLError, aio_ValueError));
    assert_false(aio_exc_type_is_subclass(aio_ValueError, aio_SSLCertVerificationError));

    /* NULL is nobody's subclass and has none. */
    assert_false(aio_exc_type_is_subclass(NULL, aio_Exception));
    assert_false(aio_exc_type_is_subclass(aio_Exception, NULL));
    assert_false(aio_exc_type_is_subclass(NULL, NULL));
}

static void test_hierarchy_user_types(void **state)
{
    (void)state;
    assert_true(aio_exc_type_is_subclass(MyChildError, MyError));
    assert_true(aio_exc_type_is_subclass(MyChildError, aio_Exception));
    assert_false(aio_exc_type_is_subclass(MyError, MyChildError));
    assert_false(aio_exc_type_is_subclass(MyError, aio_RuntimeError));
    assert_true(aio_exc_type_is_subclass(BothError, aio_LookupError));
    assert_true(aio_exc_type_is_subclass(BothError, aio_OSError));
    assert_false(aio_exc_type_is_subclass(BothError, aio_ValueError));

    aio_exc *exc = aio_exc_new(MyChildError, "m");
    assert_ptr_equal(aio_exc_type_of(exc), MyChildError);
    assert_true(aio_exc_isinstance(exc, MyChildError));
    assert_true(aio_exc_isinstance(exc, MyError));
    assert_true(aio_exc_isinstance(exc, aio_BaseException));
    assert_false(aio_exc_isinstance(exc, aio_ValueError));
    assert_string_equal(aio_exc_str(exc), "m");
    assert_repr(exc, "MyChildError('m')");
    aio_decref(exc);

    aio_err_set(MyError, "raised");
    assert_true(aio_err_matches(MyError));
    assert_false(aio_err_matches(MyChildError));
    assert_true(aio_err_matches(aio_Exception));
    assert_raised(MyError, "raised");
    assert_no_leaks();
}

/* --- errno -> OSError subclass --------------------------------------------- */

typedef struct errno_case {
    int errnum;
    const aio_exc_type *type;
} errno_case;

static void test_exc_from_errno_picks_subclass(void **state)
{
    (void)state;
    /* The PEP 3151 table, checked against OSError(errno, strerror) in 3.11. */
    static const errno_case cases[] = {
        {ECONNREFUSED, aio_ConnectionRefusedError},
        {EPIPE, aio_BrokenPipeError},
        {ESHUTDOWN, aio_BrokenPipeError},
        {ECONNRESET, aio_ConnectionResetError},
        {ECONNABORTED, aio_ConnectionAbortedError},
        {ENOENT, aio_FileNotFoundError},
        {EEXIST, aio_FileExistsError},
        {EISDIR, aio_IsADirectoryError},
        {ENOTDIR, aio_NotADirectoryError},
        {EAGAIN, aio_BlockingIOError},
        {EWOULDBLOCK, aio_BlockingIOError},
        {EINPROGRESS, aio_BlockingIOError},
        {EALREADY, aio_BlockingIOError},
        {EINTR, aio_InterruptedError},
        {ETIMEDOUT, aio_TimeoutError},
        {EACCES, aio_PermissionError},
        {EPERM, aio_PermissionError},
        {ESRCH, aio_ProcessLookupError},
        {ECHILD, aio_ChildProcessError},
        {EBADF, aio_OSError},
        {EINVAL, aio_OSError},
        {EADDRINUSE, aio_OSError},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_exc *exc = aio_exc_from_errno(cases[i].errnum);
        assert_non_null(exc);
        if (aio_exc_type_of(exc) != cases[i].type) {
            fprintf(stderr, "errno %d: expected %s, got %s\n", cases[i].errnum,
                    cases[i].type->name, aio_exc_type_of(exc)->name);
            fail();
        }
        assert_int_equal(aio_exc_errno(exc), cases[i].errnum);
        assert_string_equal(aio_exc_message(exc), strerror(cases[i].errnum));
        char expected[256];
        snprintf(expected, sizeof expected, "[Errno %d] %s", cases[i].errnum,
                 strerror(cases[i].errnum));
        assert_string_equal(aio_exc_str(exc), expected);
        snprintf(expected, sizeof expected, "%s(%d, '%s')", cases[i].type->name,
                 cases[i].errnum, strerror(cases[i].errnum));
        assert_repr(exc, expected);
        aio_decref(exc);
    }
    assert_no_leaks();
}

static void test_oserror_str_repr(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_from_errno(ECONNREFUSED);
    assert_string_equal(aio_exc_str(exc), "[Errno 111] Connection refused");
    assert_repr(exc, "ConnectionRefusedError(111, 'Connection refused')");
    assert_true(aio_exc_isinstance(exc, aio_ConnectionError));
    assert_true(aio_exc_isinstance(exc, aio_OSError));
    assert_false(aio_exc_isinstance(exc, aio_ConnectionResetError));
    aio_decref(exc);

    /* An explicit type and strerror text. */
    exc = aio_exc_oserror(aio_ConnectionRefusedError, 111, "x");
    assert_ptr_equal(aio_exc_type_of(exc), aio_ConnectionRefusedError);
    assert_string_equal(aio_exc_str(exc), "[Errno 111] x");
    assert_repr(exc, "ConnectionRefusedError(111, 'x')");
    assert_string_equal(aio_exc_message(exc), "x");
    assert_int_equal(aio_exc_errno(exc), 111);
    aio_decref(exc);

    /* strerror NULL: the system's text. */
    exc = aio_exc_oserror(aio_BrokenPipeError, EPIPE, NULL);
    assert_string_equal(aio_exc_str(exc), "[Errno 32] Broken pipe");
    assert_repr(exc, "BrokenPipeError(32, 'Broken pipe')");
    aio_decref(exc);

    /* A strerror text with a quote is quoted as Python does. */
    exc = aio_exc_oserror(aio_OSError, 5, "can't");
    assert_string_equal(aio_exc_str(exc), "[Errno 5] can't");
    assert_repr(exc, "OSError(5, \"can't\")");
    aio_decref(exc);

    /* A plain OSError('plain') has no errno. */
    exc = aio_exc_new(aio_OSError, "plain");
    assert_string_equal(aio_exc_str(exc), "plain");
    assert_repr(exc, "OSError('plain')");
    assert_int_equal(aio_exc_errno(exc), 0);
    assert_string_equal(aio_exc_message(exc), "plain");
    aio_decref(exc);

    /* aio_err_set_from_errno sets the same subclass. */
    aio_err_set_from_errno(EPIPE);
    assert_true(aio_err_matches(aio_BrokenPipeError));
    assert_true(aio_err_matches(aio_ConnectionError));
    assert_int_equal(aio_exc_errno(aio_err_occurred()), EPIPE);
    assert_raised(aio_BrokenPipeError, "[Errno 32] Broken pipe");
    aio_err_set_from_errno(ENOENT);
    assert_raised(aio_FileNotFoundError, "[Errno 2] No such file or directory");
    assert_no_leaks();
}

/* --- str() and repr() -------------------------------------------------------- */

static void test_exc_str_repr_quoting(void **state)
{
    (void)state;
    struct {
        const char *msg;
        const char *repr;
    } cases[] = {
        {"boom", "RuntimeError('boom')"},
        {"it's", "RuntimeError(\"it's\")"},             /* repr(RuntimeError("it's")) */
        {"a\"b", "RuntimeError('a\"b')"},
        {"a'b\"c", "RuntimeError('a\\'b\"c')"},
        {"a\nb\\", "RuntimeError('a\\nb\\\\')"},
        {"tab\there", "RuntimeError('tab\\there')"},
        {"", "RuntimeError('')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aio_exc *exc = aio_exc_new(aio_RuntimeError, cases[i].msg);
        assert_string_equal(aio_exc_str(exc), cases[i].msg);
        assert_string_equal(aio_exc_message(exc), cases[i].msg);
        assert_repr(exc, cases[i].repr);
        aio_decref(exc);
    }
    assert_no_leaks();
}

static void test_exc_no_args(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_new(aio_RuntimeError, NULL);
    assert_repr(exc, "RuntimeError()");
    assert_string_equal(aio_exc_str(exc), "");
    assert_null(aio_exc_message(exc));
    assert_int_equal(aio_exc_errno(exc), 0);
    assert_null(aio_exc_cause(exc));
    assert_null(aio_exc_context(exc));
    aio_decref(exc);

    exc = aio_exc_new(aio_CancelledError, NULL);
    assert_repr(exc, "CancelledError()");
    assert_string_equal(aio_exc_str(exc), "");
    aio_decref(exc);

    exc = aio_exc_new(aio_KeyError, NULL);
    assert_repr(exc, "KeyError()");
    assert_string_equal(aio_exc_str(exc), "");
    aio_decref(exc);
    assert_no_leaks();
}

static void test_keyerror_str_quirk(void **state)
{
    (void)state;
    /* str(KeyError('k')) is "'k'", the repr of the key. */
    aio_exc *exc = aio_exc_new(aio_KeyError, "k");
    assert_string_equal(aio_exc_str(exc), "'k'");
    assert_string_equal(aio_exc_message(exc), "k");
    assert_repr(exc, "KeyError('k')");
    aio_decref(exc);

    exc = aio_exc_new(aio_KeyError, "it's");
    assert_string_equal(aio_exc_str(exc), "\"it's\"");
    aio_decref(exc);

    /* Only KeyError: its base LookupError and sibling IndexError print plainly. */
    exc = aio_exc_new(aio_LookupError, "k");
    assert_string_equal(aio_exc_str(exc), "k");
    aio_decref(exc);
    exc = aio_exc_new(aio_IndexError, "k");
    assert_string_equal(aio_exc_str(exc), "k");
    aio_decref(exc);

    /* The str is stable across calls (it is cached). */
    exc = aio_exc_new(aio_KeyError, "x");
    const char *first = aio_exc_str(exc);
    assert_string_equal(first, "'x'");
    assert_string_equal(aio_exc_str(exc), "'x'");
    aio_decref(exc);
    assert_no_leaks();
}

static void test_exc_asyncio_reprs(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_new(aio_CancelledError, "m");
    assert_repr(exc, "CancelledError('m')");
    assert_string_equal(aio_exc_str(exc), "m");
    aio_decref(exc);
    exc = aio_exc_new(aio_InvalidStateError, "invalid state");
    assert_repr(exc, "InvalidStateError('invalid state')");
    aio_decref(exc);
    exc = aio_exc_new(aio_TimeoutError, NULL);
    assert_repr(exc, "TimeoutError()");
    aio_decref(exc);
    assert_no_leaks();
}

static void test_exc_format(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_format(aio_ValueError, "bad %d %s %.1f", 3, "x", 2.5);
    assert_ptr_equal(aio_exc_type_of(exc), aio_ValueError);
    assert_string_equal(aio_exc_str(exc), "bad 3 x 2.5");
    assert_repr(exc, "ValueError('bad 3 x 2.5')");
    aio_decref(exc);

    aio_err_format(aio_TypeError, "a callable object was expected by %s(), got %s", "call_soon",
                   "None");
    assert_raised(aio_TypeError, "a callable object was expected by call_soon(), got None");

    aio_err_format(aio_RuntimeError, "%s", "it's");
    aio_exc *cur = aio_err_occurred();
    assert_repr(cur, "RuntimeError(\"it's\")");
    assert_raised(aio_RuntimeError, "it's");
    assert_no_leaks();
}

static void vformat_helper(const aio_exc_type *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    aio_err_vformat(type, fmt, ap);
    va_end(ap);
}

static void test_err_vformat(void **state)
{
    (void)state;
    vformat_helper(aio_OverflowError, "%s out of range: %d", "n", -1);
    assert_raised(aio_OverflowError, "n out of range: -1");
    vformat_helper(aio_ArithmeticError, "plain");
    assert_raised(aio_ArithmeticError, "plain");
    assert_no_leaks();
}

/* --- The current exception ------------------------------------------------- */

static void test_err_set_fetch_restore_clear(void **state)
{
    (void)state;
    assert_null(aio_err_occurred());
    assert_false(aio_err_matches(aio_BaseException));
    assert_null(aio_err_fetch());

    aio_err_set(aio_RuntimeError, "boom");
    aio_exc *cur = aio_err_occurred();
    assert_non_null(cur);
    assert_string_equal(aio_exc_str(cur), "boom");
    assert_true(aio_err_matches(aio_RuntimeError));
    assert_true(aio_err_matches(aio_Exception));
    assert_true(aio_err_matches(aio_BaseException));
    assert_false(aio_err_matches(aio_NotImplementedError));
    assert_false(aio_err_matches(aio_ValueError));

    /* fetch takes it out */
    aio_exc *exc = aio_err_fetch();
    assert_ptr_equal(exc, cur);
    assert_null(aio_err_occurred());
    assert_false(aio_err_matches(aio_RuntimeError));

    /* restore steals the reference back */
    aio_err_restore(exc);
    assert_ptr_equal(aio_err_occurred(), exc);
    aio_err_clear();
    assert_null(aio_err_occurred());

    /* set replaces what was set, releasing it */
    aio_err_set(aio_ValueError, "first");
    aio_err_set(aio_KeyError, "second");
    assert_false(aio_err_matches(aio_ValueError));
    assert_raised(aio_KeyError, "'second'");

    /* restore(NULL) clears */
    aio_err_set(aio_ValueError, "x");
    aio_err_restore(NULL);
    assert_null(aio_err_occurred());

    /* clear with nothing set is harmless */
    aio_err_clear();
    assert_no_leaks();
}

static void test_err_set_exc_takes_reference(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_new(aio_ValueError, "shared");
    aio_err_set_exc(exc);
    assert_ptr_equal(aio_err_occurred(), exc);
    aio_err_clear();
    /* the caller's reference is still good */
    assert_string_equal(aio_exc_str(exc), "shared");

    aio_err_set_exc(exc);
    aio_decref(exc); /* now only the current exception holds it */
    assert_raised(aio_ValueError, "shared");

    aio_err_set(aio_ValueError, "x");
    aio_err_set_exc(NULL); /* clears */
    assert_null(aio_err_occurred());
    assert_no_leaks();
}

static void test_exc_null_safety(void **state)
{
    (void)state;
    assert_string_equal(aio_exc_str(NULL), "");
    assert_null(aio_exc_message(NULL));
    assert_int_equal(aio_exc_errno(NULL), 0);
    assert_null(aio_exc_type_of(NULL));
    assert_false(aio_exc_isinstance(NULL, aio_BaseException));
    assert_null(aio_exc_cause(NULL));
    assert_null(aio_exc_context(NULL));
    aio_exc_set_cause(NULL, NULL);
    aio_exc_set_context(NULL, NULL);
    aio_decref(NULL);
    assert_null(aio_incref(NULL));
    char *repr = aio_repr(NULL);
    assert_string_equal(repr, "None");
    free(repr);
    assert_no_leaks();
}

/* --- __cause__ and __context__ ------------------------------------------------ */

static void test_exc_cause_context(void **state)
{
    (void)state;
    aio_exc *outer = aio_exc_new(aio_RuntimeError, "outer");
    aio_exc *cause = aio_exc_new(aio_KeyError, "k");
    aio_exc *ctx = aio_exc_new(aio_ValueError, "v");

    aio_exc_set_cause(outer, cause);
    aio_exc_set_context(outer, ctx);
    aio_decref(cause); /* outer holds its own references */
    aio_decref(ctx);
    assert_ptr_equal(aio_exc_cause(outer), cause);
    assert_ptr_equal(aio_exc_context(outer), ctx);
    assert_string_equal(aio_exc_str(aio_exc_cause(outer)), "'k'");
    assert_string_equal(aio_exc_str(aio_exc_context(outer)), "v");

    /* Replacing releases the old one; NULL removes. */
    aio_exc *cause2 = aio_exc_new(aio_OSError, "c2");
    aio_exc_set_cause(outer, cause2);
    aio_decref(cause2);
    assert_ptr_equal(aio_exc_cause(outer), cause2);
    aio_exc_set_cause(outer, NULL);
    assert_null(aio_exc_cause(outer));
    aio_exc_set_context(outer, NULL);
    assert_null(aio_exc_context(outer));

    /* Setting the same cause again keeps it alive. */
    aio_exc *same = aio_exc_new(aio_KeyError, "same");
    aio_exc_set_cause(outer, same);
    aio_decref(same);
    aio_exc_set_cause(outer, aio_exc_cause(outer));
    assert_string_equal(aio_exc_str(aio_exc_cause(outer)), "'same'");

    aio_decref(outer);
    assert_no_leaks();
}

/* --- aio_err_print ----------------------------------------------------------- */

static void print_exc(aio_exc *exc, stderr_capture *c)
{
    aio_err_restore(exc);
    capture_start(c);
    aio_err_print();
    capture_end(c);
    assert_null(aio_err_occurred());
}

static void test_err_print_simple(void **state)
{
    (void)state;
    stderr_capture c;
    print_exc(aio_exc_new(aio_RuntimeError, "boom"), &c);
    assert_string_equal(c.text, "RuntimeError: boom\n");

    print_exc(aio_exc_new(aio_RuntimeError, NULL), &c);
    assert_string_equal(c.text, "RuntimeError\n");

    print_exc(aio_exc_new(aio_RuntimeError, ""), &c);
    assert_string_equal(c.text, "RuntimeError\n");

    print_exc(aio_exc_new(aio_KeyError, "k"), &c);
    assert_string_equal(c.text, "KeyError: 'k'\n");

    print_exc(aio_exc_from_errno(ECONNREFUSED), &c);
    assert_string_equal(c.text, "ConnectionRefusedError: [Errno 111] Connection refused\n");

    /* asyncio's own types print with their module, as traceback does. */
    print_exc(aio_exc_new(aio_InvalidStateError, "x"), &c);
    assert_string_equal(c.text, "asyncio.exceptions.InvalidStateError: x\n");
    print_exc(aio_exc_new(aio_CancelledError, NULL), &c);
    assert_string_equal(c.text, "asyncio.exceptions.CancelledError\n");
    print_exc(aio_exc_new(aio_socket_gaierror, "g"), &c);
    assert_string_equal(c.text, "socket.gaierror: g\n");

    /* __main__ types print bare; others with their module. */
    print_exc(aio_exc_new(MyError, "m"), &c);
    assert_string_equal(c.text, "MyError: m\n");
    print_exc(aio_exc_new(LibError, "l"), &c);
    assert_string_equal(c.text, "mylib.errors.LibError: l\n");

    /* Nothing set: nothing printed. */
    capture_start(&c);
    aio_err_print();
    capture_end(&c);
    assert_string_equal(c.text, "");
    assert_no_leaks();
}

static void test_err_print_chained(void **state)
{
    (void)state;
    stderr_capture c;

    /* raise RuntimeError('outer') from KeyError('k') */
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "outer");
    aio_exc *cause = aio_exc_new(aio_KeyError, "k");
    aio_exc_set_cause(exc, cause);
    aio_decref(cause);
    print_exc(exc, &c);
    assert_string_equal(c.text, "KeyError: 'k'\n"
                                "\n"
                                "The above exception was the direct cause of the following "
                                "exception:\n"
                                "\n"
                                "RuntimeError: outer\n");

    /* raised while handling KeyError('k') */
    exc = aio_exc_new(aio_RuntimeError, "ctx");
    aio_exc *ctx = aio_exc_new(aio_KeyError, "k");
    aio_exc_set_context(exc, ctx);
    aio_decref(ctx);
    print_exc(exc, &c);
    assert_string_equal(c.text, "KeyError: 'k'\n"
                                "\n"
                                "During handling of the above exception, another exception "
                                "occurred:\n"
                                "\n"
                                "RuntimeError: ctx\n");

    /* both: the cause wins */
    exc = aio_exc_new(aio_RuntimeError, "both");
    ctx = aio_exc_new(aio_KeyError, "k");
    cause = aio_exc_new(aio_ValueError, "v");
    aio_exc_set_context(exc, ctx);
    aio_exc_set_cause(exc, cause);
    aio_decref(ctx);
    aio_decref(cause);
    print_exc(exc, &c);
    assert_string_equal(c.text, "ValueError: v\n"
                                "\n"
                                "The above exception was the direct cause of the following "
                                "exception:\n"
                                "\n"
                                "RuntimeError: both\n");

    /* three deep: a -> b -> c */
    aio_exc *a = aio_exc_new(aio_OSError, "a");
    aio_exc *b = aio_exc_new(aio_ValueError, "b");
    aio_exc *top = aio_exc_new(aio_RuntimeError, "c");
    aio_exc_set_context(b, a);
    aio_exc_set_cause(top, b);
    aio_decref(a);
    aio_decref(b);
    print_exc(top, &c);
    assert_string_equal(c.text, "OSError: a\n"
                                "\n"
                                "During handling of the above exception, another exception "
                                "occurred:\n"
                                "\n"
                                "ValueError: b\n"
                                "\n"
                                "The above exception was the direct cause of the following "
                                "exception:\n"
                                "\n"
                                "RuntimeError: c\n");
    assert_no_leaks();
}

static void test_exc_refcounting(void **state)
{
    (void)state;
    aio_exc *exc = aio_exc_new(aio_RuntimeError, "rc");
    assert_ptr_equal(aio_incref(exc), exc);
    aio_decref(exc);
    assert_string_equal(aio_exc_str(exc), "rc"); /* still alive */
    aio_decref(exc);
    assert_no_leaks();
}


static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hierarchy_builtin),
    cmocka_unit_test(test_hierarchy_asyncio_socket_ssl),
    cmocka_unit_test(test_hierarchy_user_types),
    cmocka_unit_test(test_exc_from_errno_picks_subclass),
    cmocka_unit_test(test_oserror_str_repr),
    cmocka_unit_test(test_exc_str_repr_quoting),
    cmocka_unit_test(test_exc_no_args),
    cmocka_unit_test(test_keyerror_str_quirk),
    cmocka_unit_test(test_exc_asyncio_reprs),
    cmocka_unit_test(test_exc_format),
    cmocka_unit_test(test_err_vformat),
    cmocka_unit_test(test_err_set_fetch_restore_clear),
    cmocka_unit_test(test_err_set_exc_takes_reference),
    cmocka_unit_test(test_exc_null_safety),
    cmocka_unit_test(test_exc_cause_context),
    cmocka_unit_test(test_err_print_simple),
    cmocka_unit_test(test_err_print_chained),
    cmocka_unit_test(test_exc_refcounting),
};

AIO_TEST_MAIN(tests)
