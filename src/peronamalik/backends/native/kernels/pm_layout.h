/*
 * The layout a kernel exports, so the loader (backends/native/build.py) can check it
 * against the Python side's table at load: a mismatch (an enum value, the ABI version, a
 * function's argument order) is an error at load, not a silent wrong result.
 *
 * A kernel lists its entries once, with the values taken from its own enums:
 *
 *     static const pm_entry pm_layout_table[] = {
 *         PM_INT(PM_ABI_VERSION), PM_INT(G_EXP), PM_SIGNATURE(pm_flux_f32, "src dst ..."),
 *     };
 *     PM_LAYOUT(pm_layout_table)
 *
 * and `int pm_layout(char *buf, int size)` writes them as "NAME=VALUE\n" lines (at most
 * size bytes, NUL-terminated) and returns the length of the whole text.
 */
#ifndef PM_LAYOUT_H
#define PM_LAYOUT_H

#include <stdio.h>

typedef struct {
    const char *name;
    long value;        /* an integer entry */
    const char *text;  /* or a text entry (argument names), NULL for integers */
} pm_entry;

#define PM_INT(name) {#name, (long)(name), NULL}
#define PM_SIGNATURE(function, names) {"args." #function, 0, names}

#define PM_LAYOUT(table)                                                                  \
    int pm_layout(char *buf, int size) {                                                  \
        int used = 0;                                                                     \
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {                  \
            char *at = buf && used < size ? buf + used : NULL;                            \
            const size_t room = at ? (size_t)(size - used) : 0;                           \
            used += table[i].text ? snprintf(at, room, "%s=%s\n", table[i].name, table[i].text) \
                                  : snprintf(at, room, "%s=%ld\n", table[i].name, table[i].value); \
        }                                                                                 \
        return used;                                                                      \
    }

#endif
