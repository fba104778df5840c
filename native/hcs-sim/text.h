/* UTF-16 <-> UTF-8 and a growable string buffer: the simulator works in UTF-8 internally. */
#ifndef PODVISOR_TEXT_H
#define PODVISOR_TEXT_H

#include <stddef.h>
#include <uchar.h>

/* Returns a malloc'd UTF-8 copy, "" for NULL; NULL only when out of memory. */
char *utf8_from_utf16(const char16_t *s);
/* Returns a malloc'd UTF-16 copy; NULL only when out of memory. */
char16_t *utf16_from_utf8(const char *s);

typedef struct {
  char *data;
  size_t len;
  size_t cap;
} strbuf;

void sb_init(strbuf *b);
void sb_append(strbuf *b, const char *s);
void sb_appendn(strbuf *b, const char *s, size_t n);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string. */
void sb_json_string(strbuf *b, const char *s);
/* Takes ownership of the buffer's text (never NULL). */
char *sb_take(strbuf *b);

#endif
