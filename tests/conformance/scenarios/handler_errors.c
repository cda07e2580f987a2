/* call_exception_handler(): a custom handler receives exactly the context
 * it was given (custom keys included); a custom handler that raises is
 * reported through the default handler as 'Unhandled error in exception
 * handler' with the handler's exception attached and the original context
 * under the key 'context'; without a custom handler the default one logs
 * one ERROR record (the message, or 'Unhandled exception in event loop'
 * when the context has none) with the context's exception attached. */
#include "conformance.h"

static aio_loop *loop;

static void printer(int level, const char *message, aio_exc *exc, void *arg)
{
    (void)arg;
    const char *first = first_line(message);
    if (strncmp(first, "Exception in callback", 21) == 0)
        first = "Exception in callback ...";
    printf("log: %s %s | %s\n", level_name(level), first, exc ? aio_exc_type_of(exc)->name : "None");
    /* the key of each following line */
    printf("  log keys: [");
    const char *sep = "";
    for (const char *line = strchr(message, '\n'); line != NULL; line = strchr(line + 1, '\n')) {
        size_t n = strcspn(line + 1, ":\n");
        printf("%s'%.*s'", sep, (int)n, line + 1);
        sep = ", ";
    }
    printf("]\n");
}
AIO_NAME_CALLBACK(printer);

static void custom(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    printf("custom handler: '%s' %s\n", context->message, context_keys(context));
    const char *alpha = context_extra(context, "alpha");
    printf("  alpha: %s exception: %s\n", alpha ? alpha : "None",
           context->exception ? aio_exc_type_of(context->exception)->name : "None");
}
AIO_NAME_CALLBACK(custom);

static void failing(aio_loop *the_loop, const aio_exception_context *context, void *arg)
{
    (void)the_loop, (void)arg;
    const char *message = context->message;
    if (strncmp(message, "Exception in callback", 21) == 0)
        message = "Exception in callback ...";
    printf("failing handler called for '%s'\n", message);
    aio_err_set(aio_RuntimeError, "handler broke");
}
AIO_NAME_CALLBACK(failing);

static void boom(void *arg)
{
    (void)arg;
    aio_err_set(aio_ValueError, "callback broke");
}
AIO_NAME_CALLBACK(boom);

int main(void)
{
    aio_log_set_handler(printer, NULL);
    loop = aio_new_event_loop();
    CHECK(loop);
    aio_exc *k = aio_exc_new(aio_KeyError, "k");

    aio_loop_set_exception_handler(loop, custom, NULL);
    const aio_context_item alpha_x[] = {{"alpha", "'x'"}};
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){
        .message = "custom context", .extra = alpha_x, .extra_len = 1}) == 0);
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){
        .message = "with exception", .exception = k}) == 0);

    aio_loop_set_exception_handler(loop, failing, NULL);
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){.message = "direct call"}) == 0);
    CHECK(aio_loop_call_soon(loop, &(aio_loop_call_soon_args){.callback = boom}));
    aio_loop_stop(loop);
    CHECK(aio_loop_run_forever(loop) == 0);
    printf("loop survived the failing handler\n");

    aio_loop_set_exception_handler(loop, NULL, NULL);
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){
        .message = "to the default handler", .exception = k}) == 0);
    const aio_context_item alpha_1[] = {{"alpha", "1"}};
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){
        .message = "", .extra = alpha_1, .extra_len = 1}) == 0);
    const aio_context_item alpha_2[] = {{"alpha", "2"}};
    CHECK(aio_loop_call_exception_handler(loop, &(aio_exception_context){
        .extra = alpha_2, .extra_len = 1}) == 0);
    aio_decref(k);
    aio_loop_close(loop);
    aio_decref(loop);
    return 0;
}
