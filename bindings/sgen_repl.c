/* The REPL: `sgen` alone. Lines are read with libedit (editing, history in
 * ~/.sgen_history, Tab completion of globals and table fields) on a
 * terminal, or plainly from stdin otherwise (so that it can be driven
 * through a pipe, without prompts). Like lua.c: a line is first tried as
 * `return <line>` so expressions print their values; a chunk whose syntax
 * error ends at <eof> is incomplete and continues on a ">>" line; errors are
 * shown and the session goes on. On a terminal, Ctrl-C at a prompt cancels
 * the line or the unfinished block (as Python's REPL does) and Ctrl-D exits;
 * the history is written after every chunk, so that no way of ending the
 * session loses it. */
#include <editline/readline.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "sgen/sgen.h"
#include "sgen_cli.h"

#define EOFMARK "<eof>"
#define HISTORY_SIZE 1000

/* pushline's results */
#define LINE_READ 1
#define LINE_EOF 0
#define LINE_CANCELLED (-1)
/* loadline's results besides a Lua status */
#define CHUNK_EOF (-1)
#define CHUNK_CANCELLED (-2)

static int interactive;
static char history_path[4096];

/* ---- reading lines ---- */

/* Ctrl-C while the REPL waits at a prompt: noted here (one between chunks
 * is dropped when the next prompt clears the flag). While a chunk runs,
 * sgen_docall's handler replaces this one. */
static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* libedit's key reader (rl_getc_function). Its built-in reader retries a
 * read that a signal interrupted, so Ctrl-C could not end readline(); this
 * one reports end of input once on_prompt_sigint has run, readline() returns
 * and pushline tells the two apart by the flag. Bytes are decoded as libedit
 * does (mbrtowc in the current locale, invalid bytes dropped). */
static int read_key(FILE *stream) {
  (void)stream;
  char buf[MB_LEN_MAX];
  size_t n = 0;
  for (;;) {
    if (prompt_interrupted) return -1;
    unsigned char c;
    ssize_t got = read(STDIN_FILENO, &c, 1);
    if (got < 0 && errno == EINTR) continue; /* the flag decides */
    if (got <= 0) return -1;                 /* end of input or a dead terminal */
    buf[n++] = (char)c;
    wchar_t wc;
    mbstate_t state;
    memset(&state, 0, sizeof state);
    size_t k = mbrtowc(&wc, buf, n, &state);
    if (k == (size_t)-2 && n < sizeof buf) continue; /* more bytes to come */
    if (k == (size_t)-1 || k == (size_t)-2) {
      n = 0;
      continue;
    }
    return (int)wc;
  }
}

/* Pushes the next line (without its newline) and returns LINE_READ, or
 * returns LINE_EOF at end of input or LINE_CANCELLED after Ctrl-C. */
static int pushline(lua_State *L, int firstline) {
  if (interactive) {
    prompt_interrupted = 0;
    char *line = readline(firstline ? "> " : ">> ");
    if (prompt_interrupted) {
      free(line);
      fputs("^C\n", stdout); /* the terminal does not echo it in libedit's raw mode */
      fflush(stdout);
      return LINE_CANCELLED;
    }
    if (line == NULL) return LINE_EOF;
    lua_pushstring(L, line);
    free(line);
    return LINE_READ;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return LINE_EOF;
  }
  if (n > 0 && line[n - 1] == '\n') n--;
  if (n > 0 && line[n - 1] == '\r') n--;
  lua_pushlstring(L, line, (size_t)n);
  free(line);
  return LINE_READ;
}

static void save_history(void) {
  if (history_path[0] != '\0') write_history(history_path); /* errors ignored */
}

/* Written at once (1000 lines at most): a session killed by a signal (a
 * second Ctrl-C in a long computation, a closed terminal) keeps it too. */
static void remember(const char *chunk) {
  if (interactive && chunk[0] != '\0') {
    add_history(chunk);
    save_history();
  }
}

/* True if the syntax error on top of the stack ends at <eof>: the chunk is
 * incomplete (the message stays on the stack). */
static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    size_t marklen = sizeof(EOFMARK) - 1;
    return msg != NULL && lmsg >= marklen && strcmp(msg + lmsg - marklen, EOFMARK) == 0;
  }
  return 0;
}

/* Tries "return <line>"; on success leaves the function on the stack. */
static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2); /* the modified line */
    remember(line);
  } else {
    lua_pop(L, 2); /* result and the modified line */
  }
  return status;
}

/* Returns a Lua status with the function or the message on top, or
 * CHUNK_CANCELLED (Ctrl-C on a ">>" line: the block is dropped). */
static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    /* complete (or a real error), or the input ended inside the chunk: the
     * function or the error message is on top */
    int got = incomplete(L, status) ? pushline(L, 0) : LINE_EOF;
    if (got == LINE_CANCELLED) return CHUNK_CANCELLED;
    if (got == LINE_EOF) {
      remember(line);
      return status;
    }
    lua_remove(L, -2); /* the <eof> message */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3); /* buffer .. "\n" .. new line */
  }
}

/* A first line that declares top-level locals ("local x = 1", "local
 * function f") becomes global (sgen.cli._repl_rewrite, as Torch7's trepl
 * does): each line is its own chunk, so its locals would vanish at once. */
static void rewrite_locals(lua_State *L) {
  int top = lua_gettop(L);
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE &&
      lua_getfield(L, -1, "sgen.cli") == LUA_TTABLE &&
      lua_getfield(L, -1, "_repl_rewrite") == LUA_TFUNCTION) {
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) lua_replace(L, 1);
  }
  lua_settop(L, top);
}

/* Reads a chunk: LUA_OK with the compiled function on the stack, an error
 * status with the message, CHUNK_CANCELLED (Ctrl-C) or CHUNK_EOF. */
static int loadline(lua_State *L) {
  lua_settop(L, 0);
  int got = pushline(L, 1);
  if (got != LINE_READ) return got == LINE_CANCELLED ? CHUNK_CANCELLED : CHUNK_EOF;
  rewrite_locals(L);
  int status = addreturn(L);
  if (status != LUA_OK) status = multiline(L);
  if (status == CHUNK_CANCELLED) {
    lua_settop(L, 0);
    return status;
  }
  lua_remove(L, 1); /* the line */
  return status;
}

/* ---- printing results ---- */

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0) return;
  int ok = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE &&
      lua_getfield(L, -1, "sgen.cli") == LUA_TTABLE &&
      lua_getfield(L, -1, "_repl_format") == LUA_TFUNCTION) {
    lua_replace(L, 1 + n);
    lua_settop(L, n + 1);
    lua_insert(L, 1);
    if (sgen_docall(L, n, 1) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, -1, &len);
      fwrite(s, 1, len, stdout);
      fputc('\n', stdout);
      ok = 1;
    } else {
      fprintf(stderr, "sgen: error printing the result: %s\n", lua_tostring(L, -1));
      ok = 1;
    }
  } else {
    lua_settop(L, n);
  }
  if (!ok) { /* sgen.cli not loaded: tostring each value */
    for (int i = 1; i <= n; i++) {
      size_t len;
      const char *s = luaL_tolstring(L, i, &len);
      if (i > 1) fputc('\t', stdout);
      fwrite(s, 1, len, stdout);
      lua_pop(L, 1);
    }
    fputc('\n', stdout);
  }
  fflush(stdout);
  lua_settop(L, 0);
}

/* ---- completion (terminal only) ---- */

static lua_State *completion_state;

static const char *const keywords[] = {
    "and",  "break", "do",    "else", "elseif", "end",    "false", "for",   "function", "goto",
    "if",   "in",    "local", "nil",  "not",    "or",     "repeat", "return", "then",   "true",
    "until", "while", NULL};

/* Appends to the results (index 2; seen names at 3) each string key of the
 * table at tidx that starts with prefix, as text's head + key. */
static void add_matches(lua_State *L, int tidx, const char *prefix, const char *text, size_t headlen,
                        lua_Integer *n) {
  size_t plen = strlen(prefix);
  lua_pushnil(L);
  while (lua_next(L, tidx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    size_t klen;
    const char *k = lua_tolstring(L, -1, &klen);
    if (klen < plen || strncmp(k, prefix, plen) != 0 || (plen == 0 && k[0] == '_')) continue;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 3) != LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, 3);
    lua_pushlstring(L, text, headlen);
    lua_pushvalue(L, -2);
    lua_concat(L, 2);
    lua_rawseti(L, 2, ++*n);
  }
}

/* Protected: (text) -> a list of candidates. "a.b.pre" / "a:pre" completes
 * the string keys of a.b (and of its metatable's __index table or, for
 * tensors, its __methods table); "pre" completes globals and keywords.
 * Looking a.b up may run __index metamethods (sgen's lazy submodules), which
 * may raise: hence the protected call. */
static int collect_names(lua_State *L) {
  size_t tlen;
  const char *text = luaL_checklstring(L, 1, &tlen);
  const char *sep = NULL;
  for (const char *p = text; *p; p++) {
    if (*p == '.' || *p == ':') sep = p;
  }
  const char *prefix = sep ? sep + 1 : text;
  size_t plen = strlen(prefix);
  size_t headlen = sep ? (size_t)(sep - text) + 1 : 0;
  lua_newtable(L); /* 2: results */
  lua_newtable(L); /* 3: seen names */
  lua_pushglobaltable(L);
  if (sep != NULL) {
    const char *p = text;
    while (p < sep) {
      const char *q = p;
      while (q < sep && *q != '.' && *q != ':') q++;
      if (!lua_istable(L, -1)) return 1;
      lua_pushlstring(L, p, (size_t)(q - p));
      lua_gettable(L, -2);
      lua_remove(L, -2);
      p = q + 1;
    }
  }
  lua_Integer n = 0;
  for (int depth = 0; depth < 4 && !lua_isnil(L, -1); depth++) {
    if (lua_istable(L, -1)) add_matches(L, lua_gettop(L), prefix, text, headlen, &n);
    if (!lua_getmetatable(L, -1)) break;
    /* tensors: their properties (x.shape, x.grad, ...) are read by __index code */
    if (lua_getfield(L, -1, "__fields") == LUA_TTABLE) add_matches(L, lua_gettop(L), prefix, text, headlen, &n);
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "__index") != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_getfield(L, -1, "__methods");
    }
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) break;
  }
  if (sep == NULL) {
    for (int i = 0; keywords[i] != NULL; i++) {
      if (strncmp(keywords[i], prefix, plen) != 0) continue;
      lua_pushstring(L, keywords[i]);
      lua_rawseti(L, 2, ++n);
    }
  }
  lua_settop(L, 2);
  return 1;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* no file-name completion */
  lua_State *L = completion_state;
  if (L == NULL) return NULL;
  int top = lua_gettop(L);
  lua_pushcfunction(L, collect_names);
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
    lua_settop(L, top);
    return NULL;
  }
  size_t count = (size_t)luaL_len(L, -1);
  if (count == 0) {
    lua_settop(L, top);
    return NULL;
  }
  /* readline's format: [0] the common prefix (or the only match), then the
   * matches, NULL-terminated; all malloc'd */
  char **out = calloc(count + 2, sizeof *out);
  if (out == NULL) {
    lua_settop(L, top);
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    out[i + 1] = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (out[i + 1] == NULL) {
      for (size_t j = 1; j <= i; j++) free(out[j]);
      free(out);
      lua_settop(L, top);
      return NULL;
    }
  }
  lua_settop(L, top);
  if (count == 1) {
    out[0] = out[1];
    out[1] = NULL;
    return out;
  }
  size_t common = strlen(out[1]);
  for (size_t i = 2; i <= count; i++) {
    size_t j = 0;
    while (j < common && out[i][j] == out[1][j]) j++;
    common = j;
  }
  out[0] = malloc(common + 1);
  if (out[0] == NULL) {
    for (size_t i = 1; i <= count; i++) free(out[i]);
    free(out);
    return NULL;
  }
  memcpy(out[0], out[1], common);
  out[0][common] = '\0';
  return out;
}

/* ---- terminal set-up ---- */

static void setup_terminal(lua_State *L) {
  /* before using_history(), which initializes libedit */
  rl_getc_function = read_key;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prompt_sigint;
  sa.sa_flags = 0; /* no SA_RESTART: the read in read_key must return */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  rl_readline_name = "sgen";
  completion_state = L;
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = " \t\n\"\\'><=;+-*/%^~#{}()[],";
  using_history();
  stifle_history(HISTORY_SIZE);
  const char *env = getenv("SGEN_HISTORY");
  const char *home = getenv("HOME");
  if (env != NULL) {
    snprintf(history_path, sizeof history_path, "%s", env);
  } else if (home != NULL && home[0] != '\0') {
    snprintf(history_path, sizeof history_path, "%s/.sgen_history", home);
  }
  if (history_path[0] != '\0') {
    read_history(history_path); /* a missing file is fine */
    atexit(save_history);       /* also written when a line calls os.exit */
  }
}

int sgen_cmd_repl(void) {
  interactive = isatty(0);
  lua_State *L = sgen_new_state(1);
  if (L == NULL) return SGEN_EXIT_ERROR;
  lua_createtable(L, 0, 1);
  lua_pushstring(L, sgen_exe_path());
  lua_rawseti(L, -2, 0);
  lua_setglobal(L, "arg");
  /* sgen.cli formats the results; a failure here only loses pretty printing */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sgen.cli");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  sgen_add_project_root(L, ".");
  sgen_interactive_globals(L);

  if (interactive) {
    printf("sgen %s (%s): `sg` (= sgen), `nn` and `F` are loaded; help(sg.conv2d) shows "
           "the docs; expressions print their value; Ctrl-C cancels a line, Ctrl-D exits\n",
           SGEN_VERSION, LUA_RELEASE);
    fflush(stdout);
    setup_terminal(L);
  }
  int failures = 0;
  int status;
  while ((status = loadline(L)) != CHUNK_EOF) {
    if (status == CHUNK_CANCELLED) continue;
    if (status == LUA_OK) status = sgen_docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      print_results(L);
    } else {
      failures++;
      sgen_report(L);
    }
  }
  if (interactive) {
    fputc('\n', stdout);
    fflush(stdout);
  }
  lua_settop(L, 0);
  completion_state = NULL;
  lua_close(L);
  /* piped input: report failures in the exit status (a terminal session
   * always ends with 0) */
  return (!interactive && failures > 0) ? SGEN_EXIT_ERROR : 0;
}
