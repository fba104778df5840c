#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handles.h"
#include "text.h"

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;

#define HANDLE_MAGIC 0x48435348u /* "HCSH" */

static handle *g_handles;
static int g_open_handles;
static int g_live_threads;
static int g_strings;
static int g_stale_closes;
static int g_early_op_closes;

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wall_time(char *buf, int len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, (size_t)len, "%s.%09ldZ", base, ts.tv_nsec);
}

void thread_started(void) { __atomic_add_fetch(&g_live_threads, 1, __ATOMIC_SEQ_CST); }
void thread_finished(void) { __atomic_sub_fetch(&g_live_threads, 1, __ATOMIC_SEQ_CST); }

int spawn_thread(void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  /* Library threads must never take the host's signals (Node's SIGCHLD, SIGPIPE from a closed pipe). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  thread_started();
  int rc = pthread_create(&t, &attr, fn, arg);
  if (rc != 0) thread_finished();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return rc;
}

/* ---- the registry ---- */

handle *handle_new_locked(handle_kind kind, size_t size) {
  handle *h = calloc(1, size);
  if (h == NULL) return NULL;
  h->magic = HANDLE_MAGIC;
  h->kind = kind;
  h->refs = 1;
  h->next = g_handles;
  if (g_handles != NULL) g_handles->prev = h;
  g_handles = h;
  g_open_handles++;
  return h;
}

handle *handle_lookup_locked(void *ptr, handle_kind kind) {
  if (ptr == NULL) return NULL;
  for (handle *h = g_handles; h != NULL; h = h->next) {
    if (h == ptr) return h->magic == HANDLE_MAGIC && h->kind == kind && !h->closed ? h : NULL;
  }
  return NULL;
}

void handle_ref_locked(handle *h) { h->refs++; }

static void handle_free_locked(handle *h) {
  if (h->kind == H_OP) {
    sim_op *op = (sim_op *)h;
    if (!op->info_taken) {
      /* Pipes nobody received would leak: close them as HCS does with the operation. */
      HANDLE fds[3] = {op->info.StdInput, op->info.StdOutput, op->info.StdError};
      for (int i = 0; i < 3; i++) {
        if (fds[i] != NULL) close((int)(intptr_t)fds[i]);
      }
    }
    free(op->result);
    pthread_cond_destroy(&op->cond);
  } else if (h->kind == H_SYS) {
    system_unref_locked(((sys_handle *)h)->system);
  } else if (h->kind == H_PROC) {
    process_unref_locked(((proc_handle *)h)->process);
  }
  h->magic = 0;
  free(h);
}

void handle_unref_locked(handle *h) {
  if (--h->refs == 0) handle_free_locked(h);
}

static pthread_t g_dispatcher;
static int g_dispatcher_started;

void stale_close_locked(void) { g_stale_closes++; }

void handle_close_locked(handle *h) {
  if (h->kind == H_OP) {
    sim_op *op = (sim_op *)h;
    /* Legal (the completion is then dropped), but the worker promises not to after a cancel: let tests see it. */
    if (op->started && op->h.callback != NULL && !op->delivered) g_early_op_closes++;
  }
  h->closed = 1;
  /* Drain the callbacks in flight, unless this is one of them calling us. */
  while (h->inflight > 0 && !(g_dispatcher_started && pthread_equal(pthread_self(), g_dispatcher))) {
    pthread_cond_wait(&g_changed, &g_lock);
  }
  if (h->prev != NULL) h->prev->next = h->next;
  else g_handles = h->next;
  if (h->next != NULL) h->next->prev = h->prev;
  h->next = h->prev = NULL;
  g_open_handles--;
  handle_unref_locked(h);
}

void handle_each_locked(handle_kind kind, void (*fn)(handle *h, void *arg), void *arg) {
  for (handle *h = g_handles; h != NULL;) {
    handle *next = h->next;
    if (h->kind == kind && !h->closed) fn(h, arg);
    h = next;
  }
}

/* ---- delivery ---- */

typedef struct delivery delivery;
struct delivery {
  handle *h;
  int is_event;
  HCS_EVENT_TYPE type;
  char *data;
  delivery *next;
};

static delivery *g_queue_head, *g_queue_tail;
static pthread_cond_t g_queue_cond = PTHREAD_COND_INITIALIZER;

/*
 * One thread delivers everything, in order: a process's exit is always
 * delivered before its system's, as each is queued. It blocks while the
 * caller runs a callback (koffi relays it to the JS thread), so callbacks
 * must return quickly; nothing here holds g_lock meanwhile.
 */
static void *dispatcher_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_lock);
  for (;;) {
    while (g_queue_head == NULL) pthread_cond_wait(&g_queue_cond, &g_lock);
    delivery *d = g_queue_head;
    g_queue_head = d->next;
    if (g_queue_head == NULL) g_queue_tail = NULL;
    handle *h = d->h;
    if (!h->closed && h->callback != NULL) {
      void *cb = h->callback;
      void *ctx = h->context;
      h->inflight++;
      pthread_mutex_unlock(&g_lock);
      if (d->is_event) {
        PWSTR data = d->data == NULL ? NULL : utf16_from_utf8(d->data);
        HCS_EVENT ev = {d->type, data, NULL};
        ((HCS_EVENT_CALLBACK)cb)(&ev, ctx);
        free(data);
      } else {
        ((sim_op *)h)->delivered = 1;
        ((HCS_OPERATION_COMPLETION)cb)(h, ctx);
      }
      pthread_mutex_lock(&g_lock);
      h->inflight--;
      pthread_cond_broadcast(&g_changed);
    }
    handle_unref_locked(h);
    free(d->data);
    free(d);
  }
  return NULL;
}

static void enqueue_locked(handle *h, int is_event, HCS_EVENT_TYPE type, char *data) {
  if (!g_dispatcher_started) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* The dispatcher lives as long as the library; it is not counted among the threads tests wait for. */
    if (pthread_create(&g_dispatcher, NULL, dispatcher_main, NULL) == 0) g_dispatcher_started = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!g_dispatcher_started) {
      free(data);
      return;
    }
  }
  delivery *d = calloc(1, sizeof *d);
  if (d == NULL) {
    free(data);
    return;
  }
  handle_ref_locked(h);
  d->h = h;
  d->is_event = is_event;
  d->type = type;
  d->data = data;
  if (g_queue_tail != NULL) g_queue_tail->next = d;
  else g_queue_head = d;
  g_queue_tail = d;
  pthread_cond_signal(&g_queue_cond);
}

void deliver_event_locked(handle *h, HCS_EVENT_TYPE type, char *data_utf8) {
  if (h->closed || h->callback == NULL) {
    free(data_utf8);
    return;
  }
  enqueue_locked(h, 1, type, data_utf8);
}

HRESULT op_begin_locked(sim_op *op) {
  if (op->started) return HCS_E_OPERATION_ALREADY_STARTED;
  op->started = 1;
  return S_OK;
}

void op_complete_locked(sim_op *op, HRESULT hr, char *result, const HCS_PROCESS_INFORMATION *info) {
  if (op->done) {
    free(result);
    return;
  }
  op->done = 1;
  op->hr = hr;
  op->result = result;
  if (info != NULL) op->info = *info;
  pthread_cond_broadcast(&op->cond);
  if (!op->h.closed && op->h.callback != NULL) enqueue_locked(&op->h, 0, HcsEventOperationCallback, NULL);
}

char *error_document(HRESULT hr, const char *why) {
  strbuf b;
  sb_init(&b);
  sb_printf(&b, "{\"Error\":%d,\"ErrorMessage\":", (int)hr);
  sb_json_string(&b, why);
  sb_append(&b, "}");
  return sb_take(&b);
}

PWSTR caller_string(const char *utf8) {
  PWSTR s = utf16_from_utf8(utf8);
  if (s != NULL) __atomic_add_fetch(&g_strings, 1, __ATOMIC_SEQ_CST);
  return s;
}

void *LocalFree(void *memory) {
  if (memory != NULL) {
    __atomic_sub_fetch(&g_strings, 1, __ATOMIC_SEQ_CST);
    free(memory);
  }
  return NULL;
}

/* A counter g_lock guards, read consistently from outside the library. */
static int read_counter(const int *counter) {
  pthread_mutex_lock(&g_lock);
  int n = *counter;
  pthread_mutex_unlock(&g_lock);
  return n;
}

int PodvisorSimOpenHandles(void) { return read_counter(&g_open_handles); }

int PodvisorSimOutstandingStrings(void) { return __atomic_load_n(&g_strings, __ATOMIC_SEQ_CST); }

int PodvisorSimLiveThreads(void) { return __atomic_load_n(&g_live_threads, __ATOMIC_SEQ_CST); }

int PodvisorSimStaleCloses(void) { return read_counter(&g_stale_closes); }

int PodvisorSimOperationsClosedBeforeCompletion(void) { return read_counter(&g_early_op_closes); }

int PodvisorSimCloseAllHandles(void) {
  pthread_mutex_lock(&g_lock);
  int n = 0;
  /* Processes first, then systems (closing a system's last handle terminates it), then operations. */
  handle_kind order[3] = {H_PROC, H_SYS, H_OP};
  for (int k = 0; k < 3; k++) {
    for (handle *h = g_handles; h != NULL;) {
      handle *next = h->next;
      if (h->kind == order[k] && !h->closed) {
        if (h->kind == H_SYS) system_handle_close_locked(h);
        else handle_close_locked(h);
        n++;
        next = g_handles; /* the list changed under us */
      }
      h = next;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return n;
}
