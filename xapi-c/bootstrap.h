/* First start and every start: makes sure the database holds this host's
 * pool (with this host its master), the host with its metrics and one
 * host_cpu per CPU, and the control domain, and brings their figures (memory,
 * CPUs, versions) up to date from the system. Nothing is created twice: the
 * host is found again by the installation uuid kept in the state
 * directory's inventory file. */
#pragma once

#include <stdint.h>

/* Returns 0 and fills xapi_state, or a negative errno (logged). */
int bootstrap_host(const char *state_dir);

/* The API version this server speaks. */
#define XAPI_API_MAJOR 2
#define XAPI_API_MINOR 21

/* The control domain's size as the hypervisor reports it (Xen gives dom0
 * more memory than its kernel's MemTotal shows). */
void bootstrap_control_domain_size(int64_t mem_bytes, int64_t vcpus);
