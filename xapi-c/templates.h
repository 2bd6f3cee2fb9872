/* The default VM templates, as XCP-ng ships them: each is a VM record with
 * is_a_template and is_default_template set, other_config:default_template,
 * and other_config:disks describing the disks VM.provision creates. */
#pragma once

/* Creates the default templates that the database lacks (found by their
 * reference_label), so a restart creates none twice. The db write lock
 * must not be held. Returns 0 or a negative errno. */
int templates_ensure(void);
