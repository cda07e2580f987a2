/* plugin.c - a shared object with the static casyncio linked in, as a
 * plugin or a Python extension would have it; dlopen_test.c loads it with
 * dlopen() and calls casyncio_plugin_run(). */
#include "scenario.h"

__attribute__((visibility("default"))) int casyncio_plugin_run(const char *who);

int casyncio_plugin_run(const char *who)
{
    static const struct casyncio_api api = CASYNCIO_API_LINKED;
    return scenario_run(&api, who);
}
