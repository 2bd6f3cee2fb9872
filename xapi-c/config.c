/* The one definition of xapi's configuration and host facts (config.h):
 * main fills them at start; tests set what they need. */
#include "config.h"

struct xapi_config xapi_cfg;
struct xapi_state xapi_state;
