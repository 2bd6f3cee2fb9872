/* xapi's side of domaind: calls to it, with domaind's errors turned into
 * XenAPI errors, and a watcher thread that follows domaind's events (a
 * long-poll on events/watch) to keep VM.power_state, domid and resident_on
 * true — at start (the first watch lists every domain, which is the
 * resynchronisation after a restart of xapi or domaind), and when a guest
 * shuts down, reboots or crashes by itself, where it applies the VM's
 * actions_after_shutdown / _reboot / _crash. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

#include "error.h"

/* Starts the watcher; socket_path is domaind's socket. */
void domains_init(const char *socket_path);
/* Stops the watcher thread. */
void domains_shutdown(void);

/* Calls a domaind method for the VM vm_ref (named in errors), waiting at
 * most timeout seconds. params is borrowed; the result (a new reference,
 * possibly NULL) goes to ret_result when it is not NULL. Blocks: never call
 * with the database lock held. */
struct api_error *domains_call(const char *vm_ref, const char *method, json_object *params,
                               double timeout, json_object **ret_result);

/* As domains_call, for a call about one device of the VM (dev_class
 * "VBD", dev_ref its ref), whose errors name the device. */
struct api_error *domains_call_device(const char *vm_ref, const char *dev_class,
                                      const char *dev_ref, const char *method, json_object *params,
                                      double timeout, json_object **ret_result);

/* Whether the watcher has read domaind's domains at least once since xapi
 * started (VM power states are known to be true). */
bool domains_synced(void);
