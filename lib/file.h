/* Small whole-file reads and writes the daemons share: a state or /sys
 * file's first line, and a file replaced whole or not at all. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Writes all of data to fd, retrying short writes and EINTR: 0, or
 * -errno. */
int write_all(int fd, const void *data, size_t len);

/* Writes data to path so that path holds either its old content or all of
 * data: a temporary file beside it (mode 0600) and a rename, so a crash of
 * the process never leaves half a file. durable adds the fsyncs (the file,
 * then its folder) that make it survive a power loss too. 0, or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len, bool durable);

/* The first line of the file at path, without its newline, into buf; ""
 * when the file cannot be read. */
void read_first_line(const char *path, char *buf, size_t size);
