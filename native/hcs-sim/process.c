/*
 * Processes: each runs its program (sh.h) on its own thread, in real time,
 * writing real bytes to real pipes. Kills, signals, pause and stdin closing
 * reach it through its wake pipe, so no wait in here is ever unbounded by a
 * kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handles.h"
#include "json.h"
#include "text.h"

/* Windows' exit status for a process ended by a console control event. */
#define STATUS_CONTROL_C_EXIT 0xC000013Au

static uint32_t g_next_pid = 100;

int system_live_processes_locked(sim_system *s) {
  int n = 0;
  for (sim_process *p = s->processes; p != NULL; p = p->next) n += p->running;
  return n;
}

void process_wake_locked(sim_process *p) {
  if (p->wake[1] >= 0) {
    char one = 1;
    ssize_t ignored = write(p->wake[1], &one, 1); /* a full wake pipe already wakes it */
    (void)ignored;
  }
  pthread_cond_broadcast(&p->cond);
}

void process_kill_locked(sim_process *p, int code) {
  if (!p->running || p->killed) return;
  p->killed = 1;
  p->kill_code = code;
  process_wake_locked(p);
}

static int linux_ignored(int sig) {
  static const int ignored[] = {17, 18, 19, 20, 21, 22, 23, 28};
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
    if (ignored[i] == sig) return 1;
  }
  return 0;
}

int process_signal_locked(sim_process *p, int signal) {
  if (!p->running) return 0;
  int kill = !p->windows && signal == 9;
  if (p->system->state == SYS_PAUSED && !kill) {
    /* A paused process takes the signal when it runs again. */
    if (p->held_count < (int)(sizeof p->held_signals / sizeof p->held_signals[0])) p->held_signals[p->held_count++] = signal;
    return 1;
  }
  if (!p->windows) {
    if (signal == 9) process_kill_locked(p, 137);
    else if ((signal == 15 && p->trap_term) || linux_ignored(signal)) return 0;
    else process_kill_locked(p, 128 + signal);
    return 1;
  }
  if (signal == EV_CTRL_SHUTDOWN && p->trap_term) return 0;
  process_kill_locked(p, (int)STATUS_CONTROL_C_EXIT);
  return 1;
}

static void notify_process_handle(handle *h, void *arg) {
  sim_process *p = arg;
  if (((proc_handle *)h)->process != p) return;
  char data[160];
  snprintf(data, sizeof data, "{\"ProcessId\":%u,\"Exited\":true,\"ExitCode\":%u,\"LastWaitResult\":%d}", p->pid, (unsigned)p->exit_code,
           p->system->exit_code_unknown ? (int)0x80070006 : 0);
  deliver_event_locked(h, HcsEventProcessExited, strdup(data));
}

void events_process_exited(sim_process *p) { handle_each_locked(H_PROC, notify_process_handle, p); }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void process_unref_locked(sim_process *p) {
  if (--p->refs > 0) return;
  sim_system *s = p->system;
  for (sim_process **pp = &s->processes; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  close_fd(&p->in_fd);
  close_fd(&p->out_fd);
  close_fd(&p->err_fd);
  close_fd(&p->wake[0]);
  close_fd(&p->wake[1]);
  sh_free(&p->prog);
  pthread_cond_destroy(&p->cond);
  free(p);
  system_unref_locked(s);
}

/* ---- the process thread ---- */

static void drain_wake(sim_process *p) {
  char buf[64];
  while (read(p->wake[0], buf, sizeof buf) > 0) {
  }
}

static int killed(sim_process *p) {
  pthread_mutex_lock(&g_lock);
  int k = p->killed;
  pthread_mutex_unlock(&g_lock);
  return k;
}

/* Waits ms (< 0: until killed); returns 0 when killed first. */
static int wait_ms(sim_process *p, double ms) {
  int64_t deadline = ms < 0 ? -1 : now_ms() + (int64_t)ms;
  for (;;) {
    if (killed(p)) return 0;
    int timeout = -1;
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return 1;
      timeout = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd pfd = {p->wake[0], POLLIN, 0};
    if (poll(&pfd, 1, timeout) > 0) drain_wake(p);
  }
}

/* Blocks while the system is paused; returns 0 when killed. */
static int gate(sim_process *p) {
  pthread_mutex_lock(&g_lock);
  while (p->system->state == SYS_PAUSED && !p->killed) pthread_cond_wait(&p->cond, &g_lock);
  int k = p->killed;
  pthread_mutex_unlock(&g_lock);
  return !k;
}

/* Writes all of it unless killed; a reader that went away discards the rest, as /dev/null would. */
static int write_all(sim_process *p, int fd, const char *buf, size_t len) {
  while (len > 0 && fd >= 0) {
    ssize_t n = write(fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return 1;
    struct pollfd pfds[2] = {{fd, POLLOUT, 0}, {p->wake[0], POLLIN, 0}};
    if (poll(pfds, 2, -1) > 0 && (pfds[1].revents & POLLIN)) {
      drain_wake(p);
      if (killed(p)) return 0;
    }
  }
  return 1;
}

/* Copies stdin to stdout until EOF, a stdin close, or a kill. */
static int cat(sim_process *p) {
  char buf[4096];
  for (;;) {
    pthread_mutex_lock(&g_lock);
    int stop = p->killed || p->stdin_closed || p->in_fd < 0;
    int in = p->in_fd;
    int k = p->killed;
    pthread_mutex_unlock(&g_lock);
    if (stop) return !k;
    struct pollfd pfds[2] = {{in, POLLIN, 0}, {p->wake[0], POLLIN, 0}};
    if (poll(pfds, 2, -1) <= 0) continue;
    if (pfds[1].revents & POLLIN) drain_wake(p);
    if (pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(in, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return 1;
      if (n > 0 && !write_all(p, p->out_fd, buf, (size_t)n)) return 0;
    }
  }
}

static void *process_main(void *arg) {
  sim_process *p = arg;
  int status = 0;
  int exited = 0;
  for (int i = 0; i < p->prog.count && !exited; i++) {
    const step *st = &p->prog.steps[i];
    if (!gate(p)) break;
    if ((st->conn == CONN_AND && status != 0) || (st->conn == CONN_OR && status == 0)) continue;
    int alive = 1;
    switch (st->kind) {
      case STEP_ECHO:
        alive = write_all(p, p->out_fd, st->text, strlen(st->text));
        status = 0;
        break;
      case STEP_SLEEP:
        alive = wait_ms(p, st->seconds < 0 ? -1 : st->seconds * 1000) && gate(p);
        status = 0;
        break;
      case STEP_EXIT:
        status = st->code;
        exited = 1;
        break;
      case STEP_STATUS:
        status = st->code;
        break;
      case STEP_TRAP_TERM:
        pthread_mutex_lock(&g_lock);
        p->trap_term = 1;
        pthread_mutex_unlock(&g_lock);
        status = 0;
        break;
      case STEP_CAT:
        alive = cat(p);
        status = 0;
        break;
      case STEP_MISSING: {
        char line[256];
        snprintf(line, sizeof line, "sh: %s: not found\n", st->text);
        alive = write_all(p, p->terminal ? p->out_fd : p->err_fd, line, strlen(line));
        status = 127;
        break;
      }
    }
    if (!alive) break;
  }
  /* Output ends before the exit is reported: a reader sees EOF, then the exit. */
  pthread_mutex_lock(&g_lock);
  int code = p->killed ? p->kill_code : status;
  close_fd(&p->out_fd);
  close_fd(&p->err_fd);
  close_fd(&p->in_fd);
  p->running = 0;
  p->exit_code = code;
  events_process_exited(p);
  system_maybe_stopped_locked(p->system);
  process_unref_locked(p);
  pthread_mutex_unlock(&g_lock);
  thread_finished();
  return NULL;
}

/* ---- creation ---- */

/* A close-on-exec pipe whose ends are never 0-2, so a NULL HANDLE can still mean "no pipe". */
static int make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    if (fds[i] < 3) {
      int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      close(fds[i]);
      fds[i] = moved;
    }
  }
  if (fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return -1;
  }
  return 0;
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

HRESULT process_start_locked(sim_system *s, const char *params_json, sim_process **out, HCS_PROCESS_INFORMATION *info, char *why, int why_len) {
  memset(info, 0, sizeof *info);
  jvalue *params = json_parse(params_json);
  HRESULT hr = S_OK;
  sim_process *p = NULL;
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  if (params == NULL || params->type != J_OBJECT) {
    snprintf(why, (size_t)why_len, "the process parameters are not a JSON object");
    hr = HCS_E_INVALID_JSON;
    goto fail;
  }
  int terminal = json_is_true(json_get(params, "EmulateConsole"));
  const jvalue *size = json_get(params, "ConsoleSize");
  if (size != NULL && !terminal) {
    snprintf(why, (size_t)why_len, "a console size without a console");
    hr = HCS_E_INVALID_STATE;
    goto fail;
  }
  p = calloc(1, sizeof *p);
  if (p == NULL) {
    hr = E_OUTOFMEMORY;
    goto fail;
  }
  p->in_fd = p->out_fd = p->err_fd = p->wake[0] = p->wake[1] = -1;
  const jvalue *args = json_get(params, "CommandArgs");
  parse_result pr;
  if (args != NULL && args->type == J_ARRAY) {
    const char *argv[64];
    int argc = 0;
    for (const jvalue *a = args->children; a != NULL && argc < 64; a = a->next) argv[argc++] = json_str(a) == NULL ? "" : json_str(a);
    pr = sh_parse(argv, argc, NULL, &p->prog, why, why_len);
  } else {
    pr = sh_parse(NULL, 0, json_str(json_get(params, "CommandLine")), &p->prog, why, why_len);
  }
  if (pr != PARSE_OK) {
    hr = pr == PARSE_NOT_FOUND ? HRESULT_ERROR_FILE_NOT_FOUND : E_INVALIDARG;
    goto fail;
  }
  int want[3] = {json_is_true(json_get(params, "CreateStdInPipe")), json_is_true(json_get(params, "CreateStdOutPipe")),
                 json_is_true(json_get(params, "CreateStdErrPipe")) && !terminal};
  for (int i = 0; i < 3; i++) {
    if (want[i] && make_pipe(pipes[i]) != 0) {
      snprintf(why, (size_t)why_len, "pipe: %s", strerror(errno));
      hr = E_OUTOFMEMORY;
      goto fail;
    }
  }
  if (make_pipe(p->wake) != 0) {
    snprintf(why, (size_t)why_len, "pipe: %s", strerror(errno));
    hr = E_OUTOFMEMORY;
    goto fail;
  }
  set_nonblocking(p->wake[0]);
  set_nonblocking(p->wake[1]);
  /* The process keeps stdin's read end and the output pipes' write ends; the caller gets the others. */
  p->in_fd = pipes[0][0];
  p->out_fd = pipes[1][1];
  p->err_fd = pipes[2][1];
  for (int i = 0; i < 3; i++) {
    int mine = i == 0 ? pipes[i][0] : pipes[i][1];
    if (mine >= 0) set_nonblocking(mine);
  }
  info->ProcessId = g_next_pid;
  info->StdInput = pipes[0][1] < 0 ? NULL : (HANDLE)(intptr_t)pipes[0][1];
  info->StdOutput = pipes[1][0] < 0 ? NULL : (HANDLE)(intptr_t)pipes[1][0];
  info->StdError = pipes[2][0] < 0 ? NULL : (HANDLE)(intptr_t)pipes[2][0];
  p->system = s;
  p->pid = g_next_pid++;
  p->windows = s->windows;
  p->terminal = terminal;
  p->running = 1;
  p->refs = 1; /* the thread's */
  p->created_ms = now_ms();
  if (size != NULL && json_len(size) == 2) {
    p->console_height = (int)size->children->number;
    p->console_width = (int)size->children->next->number;
  }
  pthread_cond_init(&p->cond, NULL);
  p->next = s->processes;
  s->processes = p;
  s->refs++;
  if (spawn_thread(process_main, p) != 0) {
    s->processes = p->next;
    s->refs--;
    pthread_cond_destroy(&p->cond);
    snprintf(why, (size_t)why_len, "cannot start a thread for the process");
    hr = E_OUTOFMEMORY;
    for (int i = 0; i < 3; i++) pipes[i][0] = pipes[i][1] = -1; /* now owned by p / info */
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    HANDLE theirs[3] = {info->StdInput, info->StdOutput, info->StdError};
    for (int i = 0; i < 3; i++) {
      if (theirs[i] != NULL) close((int)(intptr_t)theirs[i]);
    }
    memset(info, 0, sizeof *info);
    goto fail;
  }
  json_free(params);
  *out = p;
  return S_OK;
fail:
  for (int i = 0; i < 3; i++) {
    if (pipes[i][0] >= 0) close(pipes[i][0]);
    if (pipes[i][1] >= 0) close(pipes[i][1]);
  }
  if (p != NULL) {
    close_fd(&p->wake[0]);
    close_fd(&p->wake[1]);
    sh_free(&p->prog);
    free(p);
  }
  json_free(params);
  return hr;
}

/* ---- exports ---- */

typedef struct {
  proc_handle *ph;
  sim_op *op;
  sim_process *p;
} proc_call;

static HRESULT enter_locked(HCS_PROCESS process, HCS_OPERATION operation, proc_call *c) {
  c->ph = (proc_handle *)handle_lookup_locked(process, H_PROC);
  c->op = (sim_op *)handle_lookup_locked(operation, H_OP);
  if (c->ph == NULL || c->op == NULL) return HRESULT_ERROR_INVALID_HANDLE;
  c->p = c->ph->process;
  return op_begin_locked(c->op);
}

static HRESULT fail_locked(sim_op *op, HRESULT hr, const char *why) {
  op_complete_locked(op, hr, error_document(hr, why), NULL);
  return hr;
}

static proc_handle *new_handle_locked(sim_process *p) {
  proc_handle *ph = (proc_handle *)handle_new_locked(H_PROC, sizeof(proc_handle));
  if (ph != NULL) {
    ph->process = p;
    p->refs++;
  }
  return ph;
}

HRESULT HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation, const void *securityDescriptor, HCS_PROCESS *process) {
  (void)securityDescriptor;
  if (process == NULL) return E_INVALIDARG;
  *process = NULL;
  char *params8 = utf8_from_utf16(processParameters);
  char why[256] = "";
  pthread_mutex_lock(&g_lock);
  sys_handle *sh = (sys_handle *)handle_lookup_locked(computeSystem, H_SYS);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr = sh == NULL || op == NULL ? HRESULT_ERROR_INVALID_HANDLE : op_begin_locked(op);
  if (hr == S_OK) {
    sim_system *s = sh->system;
    sim_process *p = NULL;
    HCS_PROCESS_INFORMATION info;
    if (s->state != SYS_RUNNING || s->stopping || s->shutdown_requested) {
      snprintf(why, sizeof why, "create process in '%s': it is not running", s->id);
      hr = fail_locked(op, HCS_E_INVALID_STATE, why);
    } else if ((hr = process_start_locked(s, params8, &p, &info, why, sizeof why)) != S_OK) {
      fail_locked(op, hr, why);
    } else {
      proc_handle *ph = new_handle_locked(p);
      if (ph == NULL) {
        process_kill_locked(p, s->windows ? 1 : 137);
        HANDLE theirs[3] = {info.StdInput, info.StdOutput, info.StdError};
        for (int i = 0; i < 3; i++) {
          if (theirs[i] != NULL) close((int)(intptr_t)theirs[i]);
        }
        hr = fail_locked(op, E_OUTOFMEMORY, "out of memory");
      } else {
        *process = ph;
        op_complete_locked(op, S_OK, NULL, &info);
      }
    }
  }
  pthread_mutex_unlock(&g_lock);
  free(params8);
  return hr;
}

HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess, HCS_PROCESS *process) {
  (void)requestedAccess;
  if (process == NULL) return E_INVALIDARG;
  *process = NULL;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = S_OK;
  sys_handle *sh = (sys_handle *)handle_lookup_locked(computeSystem, H_SYS);
  if (sh == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else {
    sim_process *found = NULL;
    for (sim_process *p = sh->system->processes; p != NULL; p = p->next) {
      if (p->pid == processId) found = p;
    }
    if (found == NULL) hr = HRESULT_ERROR_NOT_FOUND;
    else if ((*process = new_handle_locked(found)) == NULL) hr = E_OUTOFMEMORY;
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

void HcsCloseProcess(HCS_PROCESS process) {
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(process, H_PROC);
  if (h != NULL) handle_close_locked(h);
  else stale_close_locked();
  pthread_mutex_unlock(&g_lock);
}

HRESULT HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, void *context, HCS_EVENT_CALLBACK callback) {
  (void)callbackOptions;
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(process, H_PROC);
  HRESULT hr = S_OK;
  if (h == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else {
    h->callback = (void *)callback;
    h->context = context;
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

static HRESULT exited_locked(proc_call *c, const char *what) {
  char why[160];
  snprintf(why, sizeof why, "%s of process %u: it has exited", what, c->p->pid);
  return fail_locked(c->op, HCS_E_PROCESS_ALREADY_STOPPED, why);
}

HRESULT HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  proc_call c;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(process, operation, &c);
  if (hr == S_OK) {
    if (!c.p->running || c.p->killed) hr = exited_locked(&c, "terminate");
    else {
      process_kill_locked(c.p, c.p->windows ? 1 : 137);
      op_complete_locked(c.op, S_OK, NULL, NULL);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

/* {"Signal": 15} on Linux, {"Signal": "CtrlC"} (a console event) on Windows. */
static int read_signal(const jvalue *opts, int windows, int *out) {
  const jvalue *sig = json_get(opts, "Signal");
  if (sig == NULL) return 0;
  if (!windows) {
    if (sig->type != J_NUMBER || sig->number < 1 || sig->number > 64) return 0;
    *out = (int)sig->number;
    return 1;
  }
  static const char *events[] = {"CtrlC", "CtrlBreak", "CtrlClose", "CtrlLogOff", "CtrlShutdown"};
  for (int i = 0; i < 5; i++) {
    if (json_str(sig) != NULL && strcmp(json_str(sig), events[i]) == 0) {
      *out = -(i + 1);
      return 1;
    }
  }
  return 0;
}

HRESULT HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
  char *opts8 = utf8_from_utf16(options);
  jvalue *opts = json_parse(opts8);
  proc_call c;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(process, operation, &c);
  int sig;
  if (hr == S_OK) {
    if (!read_signal(opts, c.p->windows, &sig)) {
      hr = fail_locked(c.op, E_INVALIDARG, c.p->windows ? "a Windows signal is one of CtrlC, CtrlBreak, CtrlClose, CtrlLogOff, CtrlShutdown"
                                                        : "a Linux signal is a number from 1 to 64");
    } else if (!c.p->running || c.p->killed) {
      hr = exited_locked(&c, "signal");
    } else {
      process_signal_locked(c.p, sig);
      op_complete_locked(c.op, S_OK, NULL, NULL);
    }
  }
  pthread_mutex_unlock(&g_lock);
  json_free(opts);
  free(opts8);
  return hr;
}

static char *process_status(sim_process *p) {
  strbuf b;
  sb_init(&b);
  sb_printf(&b, "{\"ProcessId\":%u,\"Exited\":%s", p->pid, p->running ? "false" : "true");
  if (!p->running) sb_printf(&b, ",\"ExitCode\":%u,\"LastWaitResult\":%d", (unsigned)p->exit_code, p->system->exit_code_unknown ? (int)0x80070006 : 0);
  if (p->terminal) sb_printf(&b, ",\"ConsoleSize\":[%d,%d]", p->console_height, p->console_width);
  sb_printf(&b, ",\"StdInClosed\":%s}", p->stdin_closed ? "true" : "false");
  return sb_take(&b);
}

HRESULT HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation) {
  proc_call c;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(process, operation, &c);
  if (hr == S_OK) {
    /* The pipes went to whoever created the process; this gives the pid. */
    HCS_PROCESS_INFORMATION info = {c.p->pid, 0, NULL, NULL, NULL};
    op_complete_locked(c.op, S_OK, NULL, &info);
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery) {
  (void)propertyQuery;
  proc_call c;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(process, operation, &c);
  if (hr == S_OK) op_complete_locked(c.op, S_OK, process_status(c.p), NULL);
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings) {
  char *settings8 = utf8_from_utf16(settings);
  jvalue *req = json_parse(settings8);
  proc_call c;
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(process, operation, &c);
  if (hr == S_OK) {
    const char *what = json_str(json_get(req, "Operation"));
    if (what == NULL) hr = fail_locked(c.op, HCS_E_INVALID_JSON, "a process modify request names its Operation");
    else if (!c.p->running) hr = exited_locked(&c, what);
    else if (strcmp(what, "ConsoleSize") == 0) {
      const jvalue *size = json_get(req, "ConsoleSize");
      const jvalue *w = json_get(size, "Width");
      const jvalue *h = json_get(size, "Height");
      if (!c.p->terminal) hr = fail_locked(c.op, HCS_E_INVALID_STATE, "the process has no console");
      else if (w == NULL || h == NULL || w->type != J_NUMBER || h->type != J_NUMBER) hr = fail_locked(c.op, E_INVALIDARG, "ConsoleSize needs Width and Height");
      else {
        c.p->console_width = (int)w->number;
        c.p->console_height = (int)h->number;
        op_complete_locked(c.op, S_OK, NULL, NULL);
      }
    } else if (strcmp(what, "CloseHandle") == 0) {
      const char *which = json_str(json_path(req, "CloseHandle", "Handle", NULL));
      if (which == NULL || strcmp(which, "StdIn") != 0) hr = fail_locked(c.op, E_INVALIDARG, "only the StdIn handle can be closed");
      else {
        c.p->stdin_closed = 1;
        process_wake_locked(c.p);
        op_complete_locked(c.op, S_OK, NULL, NULL);
      }
    } else {
      hr = fail_locked(c.op, E_INVALIDARG, "the process modify operation is not one the simulator knows");
    }
  }
  pthread_mutex_unlock(&g_lock);
  json_free(req);
  free(settings8);
  return hr;
}
