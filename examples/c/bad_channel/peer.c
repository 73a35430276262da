/* bad_channel: the peer, which notifies back when notified. */
#include <microkit.h>

void init(void)
{
}

void notified(microkit_channel ch)
{
    microkit_dbg_puts("peer: notified; notifying back\n");
    microkit_notify(ch);
}
