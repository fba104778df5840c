/*
 * Caller handles (operations, systems, processes) and the thread that
 * delivers completions and events to their callbacks. Every handle the
 * caller holds is in one registry, so a stale or foreign pointer is refused
 * rather than dereferenced, and the open count is exact.
 */
#ifndef PODVISOR_HANDLES_H
#define PODVISOR_HANDLES_H

#include "sim.h"

typedef enum { H_OP = 1, H_SYS = 2, H_PROC = 3 } handle_kind;

typedef struct handle handle;
struct handle {
  uint32_t magic;
  handle_kind kind;
  int closed;   /* the caller closed it: no more callbacks, no more calls */
  int inflight; /* callbacks running right now */
  int refs;     /* the caller's reference plus queued deliveries and pending work */
  void *callback;
  void *context;
  handle *next, *prev;
};

typedef struct {
  handle h;
  int started;
  int done;
  HRESULT hr;
  char *result; /* UTF-8 result document, or NULL */
  HCS_PROCESS_INFORMATION info;
  int info_taken; /* the caller received the pipes; otherwise they are closed with the operation */
  int delivered;  /* its completion callback has been called */
  int cancelled;  /* HcsCancelOperation ended it: work still scheduled for it must not take effect */
  pthread_cond_t cond;
} sim_op;

typedef struct {
  handle h;
  sim_system *system;
} sys_handle;

typedef struct {
  handle h;
  sim_process *process;
} proc_handle;

/* Registers a new handle of `size` bytes (zeroed) with one reference, the caller's. */
handle *handle_new_locked(handle_kind kind, size_t size);
/* The live handle `ptr` names if it is open and of `kind`, else NULL. */
handle *handle_lookup_locked(void *ptr, handle_kind kind);
/* Marks it closed, waits out its running callbacks, drops the caller's reference. */
void handle_close_locked(handle *h);
void handle_ref_locked(handle *h);
void handle_unref_locked(handle *h);
/* Calls fn for every open handle of `kind`. */
void handle_each_locked(handle_kind kind, void (*fn)(handle *h, void *arg), void *arg);
/* An HcsClose* call found no open handle: counted, so a test can tell a double close from a clean one. */
void stale_close_locked(void);

/* Closes a system handle; the last one ends a running system (ShouldTerminateOnLastHandleClosed). */
void system_handle_close_locked(handle *h);

/* Queues an event for an open handle with a callback; the dispatcher owns `data_utf8` afterwards. */
void deliver_event_locked(handle *h, HCS_EVENT_TYPE type, char *data_utf8);
/* Records the operation's outcome and queues its completion callback. Takes ownership of result. */
void op_complete_locked(sim_op *op, HRESULT hr, char *result, const HCS_PROCESS_INFORMATION *info);
/* Marks an operation as used by a call; an error when it was used before. */
HRESULT op_begin_locked(sim_op *op);
/* {"Error": hr, "ErrorMessage": why}: what a failed operation's result document holds. */
char *error_document(HRESULT hr, const char *why);
/* A UTF-16 copy the caller frees with LocalFree. */
PWSTR caller_string(const char *utf8);

#endif
