#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *utf8_from_utf16(const char16_t *s) {
  strbuf b;
  sb_init(&b);
  if (s == NULL) return sb_take(&b);
  for (size_t i = 0; s[i] != 0; i++) {
    unsigned long cp = s[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      i++;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD; /* a lone surrogate cannot be encoded */
    }
    char out[4];
    size_t n;
    if (cp < 0x80) {
      out[0] = (char)cp;
      n = 1;
    } else if (cp < 0x800) {
      out[0] = (char)(0xC0 | (cp >> 6));
      out[1] = (char)(0x80 | (cp & 0x3F));
      n = 2;
    } else if (cp < 0x10000) {
      out[0] = (char)(0xE0 | (cp >> 12));
      out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
      out[2] = (char)(0x80 | (cp & 0x3F));
      n = 3;
    } else {
      out[0] = (char)(0xF0 | (cp >> 18));
      out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
      out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
      out[3] = (char)(0x80 | (cp & 0x3F));
      n = 4;
    }
    sb_appendn(&b, out, n);
  }
  return sb_take(&b);
}

char16_t *utf16_from_utf8(const char *s) {
  size_t len = strlen(s);
  char16_t *out = malloc((len + 1) * sizeof(char16_t));
  if (out == NULL) return NULL;
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p != 0) {
    unsigned long cp;
    int extra;
    if (*p < 0x80) {
      cp = *p;
      extra = 0;
    } else if ((*p & 0xE0) == 0xC0) {
      cp = *p & 0x1F;
      extra = 1;
    } else if ((*p & 0xF0) == 0xE0) {
      cp = *p & 0x0F;
      extra = 2;
    } else {
      cp = *p & 0x07;
      extra = 3;
    }
    p++;
    for (int k = 0; k < extra; k++) {
      if ((*p & 0xC0) != 0x80) {
        cp = 0xFFFD;
        break;
      }
      cp = (cp << 6) | (*p & 0x3F);
      p++;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out[o++] = (char16_t)(0xD800 + (cp >> 10));
      out[o++] = (char16_t)(0xDC00 + (cp & 0x3FF));
    } else {
      out[o++] = (char16_t)cp;
    }
  }
  out[o] = 0;
  return out;
}

void sb_init(strbuf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

static void sb_reserve(strbuf *b, size_t more) {
  if (b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap == 0 ? 64 : b->cap;
  while (cap < b->len + more + 1) cap *= 2;
  char *next = realloc(b->data, cap);
  if (next == NULL) abort(); /* the simulator has no way to report this sensibly */
  b->data = next;
  b->cap = cap;
}

void sb_appendn(strbuf *b, const char *s, size_t n) {
  sb_reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void sb_append(strbuf *b, const char *s) { sb_appendn(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    sb_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
}

void sb_json_string(strbuf *b, const char *s) {
  sb_append(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
    switch (*p) {
      case '"': sb_append(b, "\\\""); break;
      case '\\': sb_append(b, "\\\\"); break;
      case '\n': sb_append(b, "\\n"); break;
      case '\r': sb_append(b, "\\r"); break;
      case '\t': sb_append(b, "\\t"); break;
      default:
        if (*p < 0x20) sb_printf(b, "\\u%04x", *p);
        else sb_appendn(b, (const char *)p, 1);
    }
  }
  sb_append(b, "\"");
}

char *sb_take(strbuf *b) {
  if (b->data == NULL) {
    char *empty = malloc(1);
    if (empty == NULL) abort();
    empty[0] = 0;
    return empty;
  }
  char *d = b->data;
  sb_init(b);
  return d;
}
