/*
 * The simulator's state. One mutex (g_lock) guards all of it; library
 * threads never hold it while they call back into the caller or block on
 * I/O, so a slow caller or a full pipe stalls nothing else.
 */
#ifndef PODVISOR_SIM_H
#define PODVISOR_SIM_H

#include <pthread.h>
#include <stdint.h>

#include "computecore.h"
#include "sh.h"

extern pthread_mutex_t g_lock;

typedef enum { SYS_CREATED, SYS_RUNNING, SYS_PAUSED, SYS_STOPPED } sys_state;

typedef struct sim_process sim_process;
typedef struct sim_system sim_system;

struct sim_system {
  char *id;
  int refs;          /* handles plus in-flight work */
  int handles;       /* caller handles open on it */
  int windows;       /* WCOW: console events, exit code 1 when killed */
  int hyperv;        /* isolated: pause works */
  int ignore_shutdown;
  int exit_code_unknown;
  long shutdown_delay_ms; /* the system takes this long to begin shutting down */
  long shutdown_block_ms; /* HcsShutDownComputeSystem itself blocks its caller this long */
  long create_delay_ms;   /* the create operation completes this late */
  int start_hang;         /* a start operation never completes unless it is cancelled */
  sys_state state;
  int stopping;           /* every process is being ended; the system stops when none is left */
  int shutdown_requested; /* a shutdown was accepted (it may still be delayed) */
  const char *exit_type;  /* SystemExitStatus.ExitType */
  int exit_reported;
  int listed; /* still findable by id */
  int64_t started_ms;
  char *owner;
  /* The modify requests applied, by resource path (an Add appends, an Update replaces). */
  struct resource_entry {
    char *path;
    char *type;
    char *settings; /* JSON text */
  } *resources;
  int resource_count;
  sim_process *processes;
  sim_system *next;
};

struct sim_process {
  sim_system *system;
  uint32_t pid;
  int refs;
  program prog;
  int windows;
  int terminal;
  int running;     /* its thread has not finished */
  int exit_code;
  int trap_term;
  int killed;      /* a kill is pending: exit with kill_code at the next wait */
  int kill_code;
  int stdin_closed;
  int console_width, console_height;
  int held_signals[16]; /* signals sent while paused, delivered on resume (0 = none) */
  int held_count;
  int64_t created_ms;
  int in_fd, out_fd, err_fd; /* the process's ends; -1 when absent */
  int wake[2];               /* a byte here wakes the process thread */
  pthread_cond_t cond;
  sim_process *next;
};

/* Milliseconds on a monotonic clock. */
int64_t now_ms(void);
/* Wall-clock time as an RFC 3339 string, in buf. */
void wall_time(char *buf, int len);

/* Threads the simulator started, for the leak check. */
void thread_started(void);
void thread_finished(void);
/* Starts a detached thread with every signal blocked; 0 on success. */
int spawn_thread(void *(*fn)(void *), void *arg);

/* Event delivery (dispatch.c). Called with g_lock held. */
void events_system_exited(sim_system *s);
void events_process_exited(sim_process *p);
void system_unref_locked(sim_system *s);
void process_unref_locked(sim_process *p);

/* Processes (process.c). */
HRESULT process_start_locked(sim_system *s, const char *params_json, sim_process **out, HCS_PROCESS_INFORMATION *info, char *why, int why_len);
/* Ends a process with `code` unless it has exited. Called with g_lock held. */
void process_kill_locked(sim_process *p, int code);
/* Delivers a signal (Linux number, or a negative console event); returns 0 when ignored. */
int process_signal_locked(sim_process *p, int signal);
void process_wake_locked(sim_process *p);
int system_live_processes_locked(sim_system *s);
/* After a process exits: finishes a stopping system whose processes are all gone. */
void system_maybe_stopped_locked(sim_system *s);

/* Console events as negative signal numbers, so one int carries either kind. */
enum { EV_CTRL_C = -1, EV_CTRL_BREAK = -2, EV_CTRL_CLOSE = -3, EV_CTRL_LOGOFF = -4, EV_CTRL_SHUTDOWN = -5 };

#endif
