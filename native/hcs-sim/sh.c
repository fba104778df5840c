#include "sh.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

typedef struct {
  char **items;
  int count;
  int cap;
} words;

static void words_push(words *w, char *s) {
  if (w->count == w->cap) {
    w->cap = w->cap == 0 ? 8 : w->cap * 2;
    char **next = realloc(w->items, (size_t)w->cap * sizeof(char *));
    if (next == NULL) abort();
    w->items = next;
  }
  w->items[w->count++] = s;
}

static void words_free(words *w) {
  for (int i = 0; i < w->count; i++) free(w->items[i]);
  free(w->items);
  w->items = NULL;
  w->count = w->cap = 0;
}

static char *dup_or_die(const char *s) {
  char *d = strdup(s);
  if (d == NULL) abort();
  return d;
}

/* sh's splitting: blanks separate words, quotes group, `;` `&&` `||` are tokens. */
static int tokenize_script(const char *s, words *out, char *why, int why_len) {
  strbuf cur;
  sb_init(&cur);
  int quoted = 0;
  for (size_t i = 0; s[i] != 0;) {
    char c = s[i];
    if (c == '\'' || c == '"') {
      const char *end = strchr(s + i + 1, c);
      if (end == NULL) {
        snprintf(why, (size_t)why_len, "unbalanced %c in script: %s", c, s);
        free(cur.data);
        return 0;
      }
      sb_appendn(&cur, s + i + 1, (size_t)(end - (s + i + 1)));
      quoted = 1;
      i = (size_t)(end - s) + 1;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == ';' || ((c == '&' || c == '|') && s[i + 1] == c)) {
      if (cur.len > 0 || quoted) words_push(out, sb_take(&cur));
      quoted = 0;
      if (c == ';') {
        words_push(out, dup_or_die(";"));
        i++;
      } else if (c == '&' || c == '|') {
        words_push(out, dup_or_die(c == '&' ? "&&" : "||"));
        i += 2;
      } else {
        i++;
      }
    } else {
      sb_appendn(&cur, &c, 1);
      i++;
    }
  }
  if (cur.len > 0 || quoted) words_push(out, sb_take(&cur));
  free(cur.data);
  return 1;
}

/* CommandLineToArgvW's rules: quotes group, 2n backslashes + quote are n backslashes. */
static void split_command_line(const char *s, words *out) {
  size_t i = 0;
  for (;;) {
    while (s[i] == ' ' || s[i] == '\t') i++;
    if (s[i] == 0) return;
    strbuf cur;
    sb_init(&cur);
    int in_quotes = 0;
    while (s[i] != 0 && (in_quotes || (s[i] != ' ' && s[i] != '\t'))) {
      size_t slashes = 0;
      while (s[i] == '\\') {
        slashes++;
        i++;
      }
      if (s[i] == '"') {
        for (size_t k = 0; k < slashes / 2; k++) sb_append(&cur, "\\");
        if (slashes % 2 == 1) sb_append(&cur, "\"");
        else in_quotes = !in_quotes;
        i++;
      } else {
        for (size_t k = 0; k < slashes; k++) sb_append(&cur, "\\");
        if (s[i] != 0 && (in_quotes || (s[i] != ' ' && s[i] != '\t'))) {
          sb_appendn(&cur, s + i, 1);
          i++;
        }
      }
    }
    words_push(out, sb_take(&cur));
  }
}

static void base_name(const char *word, char *out, size_t len) {
  const char *b = word;
  for (const char *p = word; *p != 0; p++) {
    if (*p == '/' || *p == '\\') b = p + 1;
  }
  snprintf(out, len, "%s", b);
  for (char *p = out; *p != 0; p++) *p = (char)tolower((unsigned char)*p);
  size_t n = strlen(out);
  if (n > 4 && strcmp(out + n - 4, ".exe") == 0) out[n - 4] = 0;
}

static int parse_seconds(const char *w, double *out) {
  if (w == NULL) return 0;
  if (strcmp(w, "inf") == 0 || strcmp(w, "infinity") == 0) {
    *out = -1;
    return 1;
  }
  char *end;
  double d = strtod(w, &end);
  if (end == w || *end != 0 || !isfinite(d) || d < 0) return 0;
  *out = d;
  return 1;
}

static const char *BUILTINS[] = {"echo", "sleep", "exit", "true", "false", "cat", "trap", "ping", "timeout", NULL};

static int is_builtin(const char *name) {
  for (int i = 0; BUILTINS[i] != NULL; i++) {
    if (strcmp(BUILTINS[i], name) == 0) return 1;
  }
  return 0;
}

/* One simple command; redirections are accepted and ignored (the Windows `> nul` idiom). */
static int parse_simple(char **w, int n, step *st, char *why, int why_len) {
  char *args[64];
  int argc = 0;
  for (int i = 0; i < n && argc < 64; i++) {
    if (strcmp(w[i], ">") == 0 || strcmp(w[i], ">>") == 0) i++;
    else args[argc++] = w[i];
  }
  char name[64];
  base_name(argc > 0 ? args[0] : "", name, sizeof name);
  memset(st, 0, sizeof *st);
  if (strcmp(name, "echo") == 0) {
    strbuf b;
    sb_init(&b);
    for (int i = 1; i < argc; i++) {
      if (i > 1) sb_append(&b, " ");
      sb_append(&b, args[i]);
    }
    sb_append(&b, "\n");
    st->kind = STEP_ECHO;
    st->text = sb_take(&b);
  } else if (strcmp(name, "sleep") == 0 || strcmp(name, "timeout") == 0) {
    const char *arg = argc > 1 ? args[1] : NULL;
    if (strcmp(name, "timeout") == 0) {
      arg = NULL;
      for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(args[i], "/t") == 0) arg = args[i + 1];
      }
    }
    st->kind = STEP_SLEEP;
    if (!parse_seconds(arg, &st->seconds)) {
      snprintf(why, (size_t)why_len, "sleep: invalid time interval '%s'", arg == NULL ? "" : arg);
      return 0;
    }
  } else if (strcmp(name, "ping") == 0) {
    st->kind = STEP_SLEEP;
    st->seconds = 3;
    for (int i = 1; i < argc; i++) {
      if (strcmp(args[i], "-t") == 0) st->seconds = -1;
    }
  } else if (strcmp(name, "exit") == 0) {
    st->kind = STEP_EXIT;
    st->code = argc > 1 ? atoi(args[1]) & 255 : 0;
  } else if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
    st->kind = STEP_STATUS;
    st->code = name[0] == 'f';
  } else if (strcmp(name, "cat") == 0) {
    st->kind = STEP_CAT;
  } else if (strcmp(name, "trap") == 0) {
    int term = 0;
    for (int i = 2; i < argc; i++) {
      if (strcmp(args[i], "TERM") == 0 || strcmp(args[i], "SIGTERM") == 0 || strcmp(args[i], "15") == 0) term = 1;
    }
    if (argc < 2 || args[1][0] != 0 || !term) {
      snprintf(why, (size_t)why_len, "trap: only \"trap '' TERM\" is simulated");
      return 0;
    }
    st->kind = STEP_TRAP_TERM;
  } else {
    st->kind = STEP_MISSING;
    st->text = dup_or_die(argc > 0 ? args[0] : "");
  }
  return 1;
}

static int parse_script(const char *script, program *out, char *why, int why_len) {
  words toks = {0};
  if (!tokenize_script(script, &toks, why, why_len)) return 0;
  int ok = 1;
  int start = 0;
  connector conn = CONN_SEQ;
  for (int i = 0; i <= toks.count && ok; i++) {
    const char *t = i < toks.count ? toks.items[i] : ";";
    int is_conn = strcmp(t, ";") == 0 || strcmp(t, "&&") == 0 || strcmp(t, "||") == 0;
    if (!is_conn) continue;
    connector next = t[0] == ';' ? CONN_SEQ : t[0] == '&' ? CONN_AND : CONN_OR;
    if (i > start) {
      out->steps = realloc(out->steps, (size_t)(out->count + 1) * sizeof(step));
      if (out->steps == NULL) abort();
      step *st = &out->steps[out->count];
      ok = parse_simple(toks.items + start, i - start, st, why, why_len);
      if (ok) {
        st->conn = conn;
        out->count++;
      }
    } else if (next != CONN_SEQ) {
      snprintf(why, (size_t)why_len, "syntax error near '%s' in: %s", t, script);
      ok = 0;
    }
    conn = next;
    start = i + 1;
  }
  words_free(&toks);
  return ok;
}

parse_result sh_parse(const char *const *args, int argc, const char *command_line, program *out, char *why, int why_len) {
  memset(out, 0, sizeof *out);
  words argv = {0};
  if (args != NULL) {
    for (int i = 0; i < argc; i++) words_push(&argv, dup_or_die(args[i]));
  } else {
    split_command_line(command_line == NULL ? "" : command_line, &argv);
  }
  parse_result r = PARSE_OK;
  if (argv.count == 0 || argv.items[0][0] == 0) {
    snprintf(why, (size_t)why_len, "the process has neither arguments nor a command line");
    r = PARSE_INVALID;
    goto done;
  }
  base_name(argv.items[0], out->image, sizeof out->image);
  if ((strcmp(out->image, "sh") == 0 || strcmp(out->image, "bash") == 0) && argv.count > 1 && strcmp(argv.items[1], "-c") == 0) {
    if (!parse_script(argv.count > 2 ? argv.items[2] : "", out, why, why_len)) r = PARSE_INVALID;
  } else if (strcmp(out->image, "cmd") == 0 && argv.count > 1 && strcasecmp(argv.items[1], "/c") == 0) {
    /* cmd reads the rest of its command line as it was written, not re-split. */
    const char *rest = NULL;
    if (args == NULL && command_line != NULL) {
      const char *p = strcasestr(command_line, "/c");
      rest = p == NULL ? "" : p + 2;
      while (*rest == ' ') rest++;
    }
    strbuf b;
    sb_init(&b);
    if (rest != NULL) sb_append(&b, rest);
    else {
      for (int i = 2; i < argv.count; i++) {
        if (i > 2) sb_append(&b, " ");
        sb_append(&b, argv.items[i]);
      }
    }
    char *script = sb_take(&b);
    if (!parse_script(script, out, why, why_len)) r = PARSE_INVALID;
    free(script);
  } else if (!is_builtin(out->image)) {
    snprintf(why, (size_t)why_len, "executable '%s' not found", argv.items[0]);
    r = PARSE_NOT_FOUND;
  } else {
    out->steps = calloc(1, sizeof(step));
    if (out->steps == NULL) abort();
    if (parse_simple(argv.items, argv.count, &out->steps[0], why, why_len)) out->count = 1;
    else r = PARSE_INVALID;
  }
done:
  words_free(&argv);
  if (r != PARSE_OK) sh_free(out);
  return r;
}

void sh_free(program *p) {
  for (int i = 0; i < p->count; i++) free(p->steps[i].text);
  free(p->steps);
  p->steps = NULL;
  p->count = 0;
}
