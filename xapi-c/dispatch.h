/* From HTTP request to API call and back: decodes the body with the wire's
 * codec, finds the method, checks the parameter count and types, checks the
 * session, runs the handler (or starts it as a task for Async.*), and
 * writes the response envelope — in xapi's order of checks (xenapi.md 1.6). */
#pragma once

#include "api.h"
#include "http.h"

/* The HTTP handler of xapi's server (http_handler_fn). */
void dispatch_http(const struct http_request *req, struct http_response *resp, void *userdata);

/* Frees a call and everything it owns. */
void call_free(struct call *c);

/* Runs a prepared call (method found, arguments checked, session valid) on
 * the calling thread; the result goes to c->out. */
struct api_error *dispatch_run(struct call *c);
