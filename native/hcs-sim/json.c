#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

typedef struct {
  const char *p;
  int depth;
} parser;

static void skip_ws(parser *ps) {
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static jvalue *new_value(jtype t) {
  jvalue *v = calloc(1, sizeof *v);
  if (v != NULL) v->type = t;
  return v;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static char *parse_string(parser *ps) {
  if (*ps->p != '"') return NULL;
  ps->p++;
  strbuf b;
  sb_init(&b);
  while (*ps->p != '"') {
    if (*ps->p == 0) goto fail;
    if (*ps->p != '\\') {
      sb_appendn(&b, ps->p, 1);
      ps->p++;
      continue;
    }
    ps->p++;
    char c = *ps->p++;
    switch (c) {
      case '"': sb_append(&b, "\""); break;
      case '\\': sb_append(&b, "\\"); break;
      case '/': sb_append(&b, "/"); break;
      case 'b': sb_append(&b, "\b"); break;
      case 'f': sb_append(&b, "\f"); break;
      case 'n': sb_append(&b, "\n"); break;
      case 'r': sb_append(&b, "\r"); break;
      case 't': sb_append(&b, "\t"); break;
      case 'u': {
        unsigned cp;
        if (!hex4(ps->p, &cp)) goto fail;
        ps->p += 4;
        char16_t units[3] = {(char16_t)cp, 0, 0};
        if (cp >= 0xD800 && cp <= 0xDBFF && ps->p[0] == '\\' && ps->p[1] == 'u') {
          unsigned lo;
          if (hex4(ps->p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            units[1] = (char16_t)lo;
            ps->p += 6;
          }
        }
        char *utf8 = utf8_from_utf16(units);
        sb_append(&b, utf8);
        free(utf8);
        break;
      }
      default:
        goto fail;
    }
  }
  ps->p++;
  return sb_take(&b);
fail:
  free(b.data);
  return NULL;
}

static jvalue *parse_value(parser *ps);

static jvalue *parse_container(parser *ps, int object) {
  jvalue *v = new_value(object ? J_OBJECT : J_ARRAY);
  if (v == NULL) return NULL;
  ps->p++;
  skip_ws(ps);
  char close = object ? '}' : ']';
  jvalue **tail = &v->children;
  if (*ps->p == close) {
    ps->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    skip_ws(ps);
    if (object) {
      key = parse_string(ps);
      if (key == NULL) goto fail;
      skip_ws(ps);
      if (*ps->p != ':') {
        free(key);
        goto fail;
      }
      ps->p++;
    }
    jvalue *child = parse_value(ps);
    if (child == NULL) {
      free(key);
      goto fail;
    }
    child->key = key;
    *tail = child;
    tail = &child->next;
    skip_ws(ps);
    if (*ps->p == ',') {
      ps->p++;
      continue;
    }
    if (*ps->p == close) {
      ps->p++;
      return v;
    }
    goto fail;
  }
fail:
  json_free(v);
  return NULL;
}

static jvalue *parse_value(parser *ps) {
  skip_ws(ps);
  if (++ps->depth > 64) return NULL;
  jvalue *v = NULL;
  char c = *ps->p;
  if (c == '{' || c == '[') {
    v = parse_container(ps, c == '{');
  } else if (c == '"') {
    char *s = parse_string(ps);
    if (s != NULL && (v = new_value(J_STRING)) != NULL) v->string = s;
    else free(s);
  } else if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
    v = new_value(J_BOOL);
    if (v != NULL) v->boolean = c == 't';
    ps->p += c == 't' ? 4 : 5;
  } else if (strncmp(ps->p, "null", 4) == 0) {
    v = new_value(J_NULL);
    ps->p += 4;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    char *end;
    double d = strtod(ps->p, &end);
    if (end != ps->p && (v = new_value(J_NUMBER)) != NULL) {
      v->number = d;
      ps->p = end;
    }
  }
  ps->depth--;
  return v;
}

jvalue *json_parse(const char *text) {
  parser ps = {text, 0};
  jvalue *v = parse_value(&ps);
  if (v == NULL) return NULL;
  skip_ws(&ps);
  if (*ps.p != 0) {
    json_free(v);
    return NULL;
  }
  return v;
}

void json_free(jvalue *v) {
  while (v != NULL) {
    jvalue *next = v->next;
    json_free(v->children);
    free(v->string);
    free(v->key);
    free(v);
    v = next;
  }
}

const jvalue *json_get(const jvalue *v, const char *key) {
  if (v == NULL || v->type != J_OBJECT) return NULL;
  for (const jvalue *c = v->children; c != NULL; c = c->next) {
    if (strcmp(c->key, key) == 0) return c;
  }
  return NULL;
}

const jvalue *json_path(const jvalue *v, ...) {
  va_list ap;
  va_start(ap, v);
  const char *key;
  while (v != NULL && (key = va_arg(ap, const char *)) != NULL) v = json_get(v, key);
  va_end(ap);
  return v;
}

const char *json_str(const jvalue *v) { return v != NULL && v->type == J_STRING ? v->string : NULL; }

int json_is_true(const jvalue *v) { return v != NULL && v->type == J_BOOL && v->boolean; }

size_t json_len(const jvalue *v) {
  size_t n = 0;
  if (v == NULL) return 0;
  for (const jvalue *c = v->children; c != NULL; c = c->next) n++;
  return n;
}

void json_write(void *strbuf_ptr, const jvalue *v) {
  strbuf *b = strbuf_ptr;
  switch (v->type) {
    case J_NULL: sb_append(b, "null"); break;
    case J_BOOL: sb_append(b, v->boolean ? "true" : "false"); break;
    case J_NUMBER: sb_printf(b, "%.17g", v->number); break;
    case J_STRING: sb_json_string(b, v->string); break;
    case J_ARRAY:
    case J_OBJECT: {
      sb_append(b, v->type == J_ARRAY ? "[" : "{");
      for (const jvalue *c = v->children; c != NULL; c = c->next) {
        if (c != v->children) sb_append(b, ",");
        if (v->type == J_OBJECT) {
          sb_json_string(b, c->key);
          sb_append(b, ":");
        }
        json_write(b, c);
      }
      sb_append(b, v->type == J_ARRAY ? "]" : "}");
      break;
    }
  }
}
