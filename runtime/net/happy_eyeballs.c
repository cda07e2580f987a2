/* happy_eyeballs.c - Happy Eyeballs (RFC 8305) as asyncio 3.11 does it for
 * create_connection(): the addresses interleaved by family
 * (base_events._interleave_addrinfos) and raced with staggered starts
 * (staggered.staggered_race).
 *
 * An attempt starts when the one before it failed, or when the delay has
 * passed since the one before it started, whichever comes first; the first
 * to connect wins and the others are closed; when every address was tried
 * and every attempt failed, create_connection() reports their errors.
 */
#include <string.h>

#include "create_connection.h"
#include "future.h"
#include "impl.h"
#include "loop.h"
#include "names.h"

int aio__interleave_targets(aio__conn_targets *t, int first_count)
{
    size_t n = t->len;
    if (n < 2)
        return 0;
    /* The families in the order they first appear, and each target's. */
    int *families = aio__calloc(n, sizeof *families);
    size_t *group = aio__calloc(n, sizeof *group);
    bool *used = aio__calloc(n, sizeof *used);
    aio__conn_target *out = aio__calloc(n, sizeof *out);
    if (families == NULL || group == NULL || used == NULL || out == NULL) {
        free(families);
        free(group);
        free(used);
        free(out);
        return -1;
    }
    size_t ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        size_t g = 0;
        while (g < ngroups && families[g] != t->items[i].family)
            g++;
        if (g == ngroups)
            families[ngroups++] = t->items[i].family;
        group[i] = g;
    }
    size_t len = 0;
    /* first_count - 1 of the first family first */
    if (first_count > 1) {
        size_t want = (size_t)first_count - 1;
        for (size_t i = 0; i < n && want > 0; i++) {
            if (group[i] == 0) {
                out[len++] = t->items[i];
                used[i] = true;
                want--;
            }
        }
    }
    /* then one of each family in turn (zip_longest) */
    size_t *cursor = aio__calloc(ngroups, sizeof *cursor);
    if (cursor == NULL) {
        free(families);
        free(group);
        free(used);
        free(out);
        return -1;
    }
    while (len < n) {
        for (size_t g = 0; g < ngroups; g++) {
            size_t i = cursor[g];
            while (i < n && (group[i] != g || used[i]))
                i++;
            cursor[g] = i;
            if (i < n) {
                out[len++] = t->items[i];
                used[i] = true;
                cursor[g] = i + 1;
            }
        }
    }
    free(cursor);
    free(families);
    free(group);
    free(used);
    free(t->items);
    t->items = out;
    return 0;
}

static void timer_release(void *arg)
{
    aio__decref(arg);
}

/* The delay passed: the next attempt starts (wait_for() timed out). */
static void delay_passed(void *arg)
{
    aio__create_conn *cc = arg;
    aio__handle_drop(&cc->timer);
    if (cc->fut != NULL && cc->fut->state == AIO__FUTURE_PENDING)
        aio__he_next(cc);
    aio__decref(cc);
}

void aio__he_next(aio__create_conn *cc)
{
    aio__handle_drop(&cc->timer);
    while (cc->started < cc->remote.len) {
        size_t i = cc->started++;
        int rc = aio__conn_attempt_run(cc, i);
        if (rc == 0) {
            aio__conn_win(cc, i);
            return;
        }
        if (rc == 1) {
            if (cc->started < cc->remote.len) {
                aio__incref(cc);
                aio_handle *h = aio__loop_call_later(
                    cc->loop, &(aio__loop_call_later_args){.delay = cc->delay,
                                                           .callback = delay_passed,
                                                           .args = cc,
                                                           .args_release = timer_release});
                if (h == NULL) {
                    aio__decref(cc);
                    aio__conn_fail(cc, aio_err_fetch());
                    return;
                }
                cc->timer = aio_incref(h);
            }
            return;
        }
        /* failed at once: the next one starts now */
        aio__conn_attempt_close(&cc->attempts[i]);
        if (rc == -2) {
            aio__conn_fail(cc, aio_err_fetch());
            return;
        }
    }
    if (cc->running == 0)
        aio__conn_fail_all(cc);
}

void aio__he_attempt_failed(aio__create_conn *cc, size_t i)
{
    /* The newest attempt failing starts the next one; an older one's
     * failure only matters when it was the last still running. */
    if (i + 1 == cc->started || cc->started == cc->remote.len)
        aio__he_next(cc);
}

AIO__NAME(delay_passed, "staggered_race.<locals>.run_one_coro", AIO__NAME_SELF_ARG);
