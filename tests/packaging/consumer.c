/* consumer.c - a program built against the installed casyncio, the way its
 * users build theirs: with pkg-config (shared and --static) and with
 * CMake's find_package(casyncio CONFIG) (casyncio::casyncio, shared and
 * static). tests/packaging/check-install.sh builds and runs it. */
#include "scenario.h"

int main(void)
{
    static const struct casyncio_api api = CASYNCIO_API_LINKED;
    return scenario_run(&api, "consumer") < 0;
}
