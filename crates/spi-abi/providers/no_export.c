/*
 * A shared object that is not a provider: it has no WSPStartupEx. Loading it must fail
 * cleanly with "symbol not found", not crash.
 */
#include "wsd_provider.h"

int wsd_not_a_provider(void);

int wsd_not_a_provider(void)
{
    return 42;
}
