#ifndef XDPBATCH_CNCURSESW_SHIM_H
#define XDPBATCH_CNCURSESW_SHIM_H

// SwiftPM drops pkg-config's -D flags: without these curses.h hides the
// wide-character API (cchar_t, wadd_wch, wget_wch).
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif

#include <locale.h>
#include <signal.h>
#include <wchar.h>
#include <ncursesw/curses.h>

// Macros and C globals do not import into Swift (or are not
// concurrency-safe there): small getters instead.

static inline WINDOW *cncurses_stdscr(void) { return stdscr; }

/// Starts curses on the process's standard output and input; unlike
/// initscr, returns NULL instead of exiting when the terminal is unusable.
static inline SCREEN *cncurses_newterm(void) { return newterm(NULL, stdout, stdin); }
static inline int cncurses_lines(void) { return LINES; }
static inline int cncurses_cols(void) { return COLS; }
static inline int cncurses_colors(void) { return COLORS; }
static inline int cncurses_color_pairs(void) { return COLOR_PAIRS; }

static inline attr_t cncurses_a_normal(void) { return A_NORMAL; }
static inline attr_t cncurses_a_bold(void) { return A_BOLD; }
static inline attr_t cncurses_a_dim(void) { return A_DIM; }
static inline attr_t cncurses_a_reverse(void) { return A_REVERSE; }
static inline attr_t cncurses_a_underline(void) { return A_UNDERLINE; }
static inline attr_t cncurses_a_italic(void) { return A_ITALIC; }

static inline int cncurses_ok(void) { return OK; }
static inline int cncurses_err(void) { return ERR; }
static inline int cncurses_key_code_yes(void) { return KEY_CODE_YES; }

/// Writes one cell: a character (and any combining marks) with
/// attributes and a colour pair, at row y, column x.
static inline int cncurses_put_cell(WINDOW *window, int y, int x, const wchar_t *text,
                                    attr_t attributes, int pair) {
  cchar_t cell;
  if (setcchar(&cell, text, attributes, (short)(pair < 32767 ? pair : 0), &pair) != OK) {
    return ERR;
  }
  return mvwadd_wch(window, y, x, &cell);
}

#endif
