/* The tokeniser of the /cli request body (xe-cli.md 1.1, 5): one word per
 * line (a trailing CR dropped), an optional first line session_id=<ref>
 * from a forwarding slave, the command name, then each word as upstream's
 * parse_params_2 reads it: --foo is foo=true, the switches -u -pw -s -h -p
 * take the next word, name=value splits at the first '=', and a bare word
 * is a parameter with an empty value. It sees untrusted bytes, so it has a
 * libFuzzer target (tests/fuzz/fuzz-cli.c) and no dependency beyond lib/. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/util.h"

void cli_args_free(struct cli_arg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].value);
    }
    free(a);
}

/* The switches that take their value from the next word. */
static const char *switch_name(const char *w)
{
    static const char *const sw[][2] = {
        {"-u", "username"}, {"-pw", "password"}, {"-s", "server"}, {"-h", "server"}, {"-p", "port"},
    };
    for (size_t i = 0; i < ELEMENTSOF(sw); i++)
        if (streq(w, sw[i][0]))
            return sw[i][1];
    return NULL;
}

int cli_tokenise(const char *body, size_t len, char **ret_cmd, struct cli_arg **ret, size_t *ret_n)
{
    char **words = NULL;
    size_t nw = 0, na = 0;
    struct cli_arg *args;
    int r = 0;

    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        size_t wl = end - i;
        if (wl > 0 && body[i + wl - 1] == '\r')
            wl--;
        words = xrealloc(words, (nw + 1) * sizeof(char *));
        words[nw++] = xstrndup(body + i, wl);
        i = end + 1;
    }
    /* A slave forwarding to its master puts its session first. */
    size_t first = nw > 0 && strncmp(words[0], "session_id=", 11) == 0 ? 1 : 0;
    args = xcalloc(nw + 1, sizeof(*args));
    if (first >= nw || strchr(words[first], '=') || words[first][0] == '\0') {
        r = -1;
        goto out;
    }
    for (size_t i = first + 1; i < nw; i++) {
        const char *w = words[i];
        const char *eq;
        if (w[0] == '-' && w[1] == '-') {
            args[na++] = (struct cli_arg){xstrdup(w + 2), xstrdup("true")};
        } else if (w[0] == '-') {
            const char *name = switch_name(w);
            if (!name || i + 1 >= nw) {
                r = -1;
                goto out;
            }
            args[na++] = (struct cli_arg){xstrdup(name), xstrdup(words[++i])};
        } else if ((eq = strchr(w, '='))) {
            args[na++] = (struct cli_arg){xstrndup(w, (size_t)(eq - w)), xstrdup(eq + 1)};
        } else if (*w) {
            args[na++] = (struct cli_arg){xstrdup(w), xstrdup("")};
        }
    }
    *ret_cmd = xstrdup(words[first]);
out:
    for (size_t i = 0; i < nw; i++)
        free(words[i]);
    free(words);
    if (r < 0) {
        cli_args_free(args, na);
        return r;
    }
    *ret = args;
    *ret_n = na;
    return 0;
}
