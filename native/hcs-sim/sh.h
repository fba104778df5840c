/*
 * The `sh` subset the simulator runs, the same as podvisor's in-memory
 * simulator (src/hcs/sim/sh.ts) so one spec behaves alike on both:
 * `sh -c 'SCRIPT'`, `cmd /c SCRIPT` or a bare builtin, where SCRIPT is
 * commands joined by `;`, `&&` or `||`.
 */
#ifndef PODVISOR_SH_H
#define PODVISOR_SH_H

typedef enum { STEP_ECHO, STEP_SLEEP, STEP_EXIT, STEP_STATUS, STEP_CAT, STEP_TRAP_TERM, STEP_MISSING } step_kind;
typedef enum { CONN_SEQ, CONN_AND, CONN_OR } connector;

typedef struct {
  connector conn;
  step_kind kind;
  char *text;     /* echo: the line to write; missing: the command name */
  double seconds; /* sleep: < 0 means forever */
  int code;       /* exit / status */
} step;

typedef struct {
  char image[64];
  step *steps;
  int count;
} program;

typedef enum { PARSE_OK, PARSE_NOT_FOUND, PARSE_INVALID } parse_result;

/*
 * Reads argv (args != NULL) or a Windows command line. On PARSE_INVALID or
 * PARSE_NOT_FOUND, `why` says what was wrong.
 */
parse_result sh_parse(const char *const *args, int argc, const char *command_line, program *out, char *why, int why_len);
void sh_free(program *p);

#endif
