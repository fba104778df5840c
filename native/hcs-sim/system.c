/* Compute systems: create/open/close, start, shutdown/terminate, pause/resume, properties, modify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handles.h"
#include "json.h"
#include "text.h"

static sim_system *g_systems;

int PodvisorSimSystems(void) {
  pthread_mutex_lock(&g_lock);
  int n = 0;
  for (sim_system *s = g_systems; s != NULL; s = s->next) n++;
  pthread_mutex_unlock(&g_lock);
  return n;
}

static sim_system *find_locked(const char *id) {
  for (sim_system *s = g_systems; s != NULL; s = s->next) {
    if (strcmp(s->id, id) == 0) return s;
  }
  return NULL;
}

void system_unref_locked(sim_system *s) {
  if (--s->refs > 0) return;
  for (int i = 0; i < s->resource_count; i++) {
    free(s->resources[i].path);
    free(s->resources[i].type);
    free(s->resources[i].settings);
  }
  free(s->resources);
  free(s->owner);
  free(s->id);
  free(s);
}

/* The id is free again once the system has stopped and nobody holds a handle. */
static void delist_locked(sim_system *s) {
  if (!s->listed) return;
  for (sim_system **pp = &g_systems; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  s->listed = 0;
  system_unref_locked(s);
}

static void notify_system_handle(handle *h, void *arg) {
  sim_system *s = arg;
  if (((sys_handle *)h)->system != s) return;
  char data[128];
  snprintf(data, sizeof data, "{\"Status\":0,\"ExitType\":\"%s\"}", s->exit_type == NULL ? "GracefulExit" : s->exit_type);
  deliver_event_locked(h, HcsEventSystemExited, strdup(data));
}

void events_system_exited(sim_system *s) {
  if (s->exit_reported) return;
  s->exit_reported = 1;
  handle_each_locked(H_SYS, notify_system_handle, s);
}

void system_maybe_stopped_locked(sim_system *s) {
  if (!s->stopping || s->state == SYS_STOPPED || system_live_processes_locked(s) > 0) return;
  s->state = SYS_STOPPED;
  events_system_exited(s);
  if (s->handles == 0) delist_locked(s);
}

static void wake_all_locked(sim_system *s) {
  for (sim_process *p = s->processes; p != NULL; p = p->next) process_wake_locked(p);
}

static void unpause_locked(sim_system *s) {
  if (s->state != SYS_PAUSED) return;
  s->state = SYS_RUNNING;
  wake_all_locked(s);
}

static void terminate_locked(sim_system *s, const char *exit_type) {
  if (s->exit_type == NULL) s->exit_type = exit_type;
  s->stopping = 1;
  unpause_locked(s);
  for (sim_process *p = s->processes; p != NULL; p = p->next) {
    if (p->running) process_kill_locked(p, s->windows ? 1 : 137);
  }
  system_maybe_stopped_locked(s);
}

static void begin_shutdown_locked(sim_system *s) {
  if (s->state == SYS_STOPPED || s->ignore_shutdown) return;
  if (s->exit_type == NULL) s->exit_type = "GracefulExit";
  s->stopping = 1;
  unpause_locked(s);
  for (sim_process *p = s->processes; p != NULL; p = p->next) {
    if (p->running) process_signal_locked(p, s->windows ? EV_CTRL_SHUTDOWN : 15);
  }
  system_maybe_stopped_locked(s);
}

void system_handle_close_locked(handle *h) {
  sim_system *s = ((sys_handle *)h)->system;
  s->refs++;
  s->handles--;
  /* Closed first: closing delivers no final event to this handle. */
  handle_close_locked(h);
  if (s->handles == 0) {
    if (s->state != SYS_STOPPED) terminate_locked(s, "ForcedExit");
    else delist_locked(s);
  }
  system_unref_locked(s);
}

/* ---- call plumbing ---- */

typedef struct {
  sys_handle *sh;
  sim_op *op;
  sim_system *s;
} sys_call;

/* Resolves the handle and operation of a call; on failure returns the HRESULT to give back. */
static HRESULT enter_locked(HCS_SYSTEM system, HCS_OPERATION operation, sys_call *c) {
  c->sh = (sys_handle *)handle_lookup_locked(system, H_SYS);
  c->op = (sim_op *)handle_lookup_locked(operation, H_OP);
  if (c->sh == NULL || c->op == NULL) return HRESULT_ERROR_INVALID_HANDLE;
  c->s = c->sh->system;
  return op_begin_locked(c->op);
}

/* Fails the call: the operation holds the error document too, as HCS's does. */
static HRESULT fail_locked(sim_op *op, HRESULT hr, const char *why) {
  if (op != NULL && op->started) op_complete_locked(op, hr, error_document(hr, why), NULL);
  return hr;
}

static HRESULT succeed_locked(sim_op *op, char *result) {
  op_complete_locked(op, S_OK, result, NULL);
  return S_OK;
}

static const char *state_name(sys_state st) {
  switch (st) {
    case SYS_CREATED: return "Created";
    case SYS_RUNNING: return "Running";
    case SYS_PAUSED: return "Paused";
    default: return "Stopped";
  }
}

static long number_or(const jvalue *v, long fallback) { return v != NULL && v->type == J_NUMBER ? (long)v->number : fallback; }

/* ---- delayed work: a thread that sleeps, then finishes an operation ---- */

typedef struct {
  sim_system *s;
  sim_op *op;
  long delay_ms;
  int shutdown; /* begin the shutdown before completing */
} delayed;

static void *delayed_main(void *arg) {
  delayed *d = arg;
  struct timespec ts = {d->delay_ms / 1000, (d->delay_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  pthread_mutex_lock(&g_lock);
  if (d->shutdown && d->op->cancelled) d->s->shutdown_requested = 0; /* a cancelled shutdown never began */
  else if (d->shutdown) begin_shutdown_locked(d->s);
  op_complete_locked(d->op, S_OK, NULL, NULL);
  handle_unref_locked(&d->op->h);
  system_unref_locked(d->s);
  pthread_mutex_unlock(&g_lock);
  free(d);
  thread_finished();
  return NULL;
}

static int complete_later_locked(sim_system *s, sim_op *op, long delay_ms, int shutdown) {
  delayed *d = malloc(sizeof *d);
  if (d == NULL) return 0;
  *d = (delayed){s, op, delay_ms, shutdown};
  s->refs++;
  handle_ref_locked(&op->h);
  if (spawn_thread(delayed_main, d) != 0) {
    s->refs--;
    handle_unref_locked(&op->h);
    free(d);
    return 0;
  }
  return 1;
}

/* ---- exports ---- */

HRESULT HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation, const void *securityDescriptor, HCS_SYSTEM *computeSystem) {
  (void)securityDescriptor;
  if (computeSystem != NULL) *computeSystem = NULL;
  if (id == NULL || configuration == NULL || computeSystem == NULL) return E_INVALIDARG;
  char *id8 = utf8_from_utf16(id);
  char *config8 = utf8_from_utf16(configuration);
  pthread_mutex_lock(&g_lock);
  HRESULT hr;
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  jvalue *doc = NULL;
  char why[256];
  if (op == NULL) {
    hr = HRESULT_ERROR_INVALID_HANDLE;
    goto out;
  }
  if ((hr = op_begin_locked(op)) != S_OK) goto out;
  if (id8[0] == 0) {
    hr = fail_locked(op, E_INVALIDARG, "the compute system id is empty");
    goto out;
  }
  doc = json_parse(config8);
  if (doc == NULL || doc->type != J_OBJECT) {
    hr = fail_locked(op, HCS_E_INVALID_JSON, "the configuration is not a JSON object");
    goto out;
  }
  if (find_locked(id8) != NULL) {
    snprintf(why, sizeof why, "compute system '%s' already exists", id8);
    hr = fail_locked(op, HCS_E_SYSTEM_ALREADY_EXISTS, why);
    goto out;
  }
  const jvalue *sim = json_get(doc, "PodvisorSim");
  sim_system *s = calloc(1, sizeof *s);
  sys_handle *sh = s == NULL ? NULL : (sys_handle *)handle_new_locked(H_SYS, sizeof(sys_handle));
  if (sh == NULL) {
    free(s);
    hr = fail_locked(op, E_OUTOFMEMORY, "out of memory");
    goto out;
  }
  s->id = id8;
  id8 = NULL;
  const char *owner = json_str(json_get(doc, "Owner"));
  s->owner = strdup(owner == NULL ? "" : owner);
  const char *platform = json_str(json_get(sim, "Platform"));
  s->windows = platform == NULL || strcmp(platform, "linux") != 0;
  s->hyperv = json_get(doc, "VirtualMachine") != NULL || json_get(doc, "HostingSystemId") != NULL;
  s->ignore_shutdown = json_is_true(json_get(sim, "IgnoreShutdown"));
  s->exit_code_unknown = json_is_true(json_get(sim, "ExitCodeUnknown"));
  s->shutdown_delay_ms = number_or(json_get(sim, "ShutdownDelayMs"), 0);
  s->shutdown_block_ms = number_or(json_get(sim, "ShutdownBlockMs"), 0);
  s->create_delay_ms = number_or(json_get(sim, "CreateDelayMs"), 0);
  s->start_hang = json_is_true(json_get(sim, "StartHang"));
  s->state = SYS_CREATED;
  s->listed = 1;
  s->refs = 2; /* listed, and the handle */
  s->handles = 1;
  s->next = g_systems;
  g_systems = s;
  sh->system = s;
  *computeSystem = sh;
  if (s->create_delay_ms <= 0 || !complete_later_locked(s, op, s->create_delay_ms, 0)) succeed_locked(op, NULL);
  hr = S_OK;
out:
  pthread_mutex_unlock(&g_lock);
  json_free(doc);
  free(id8);
  free(config8);
  return hr;
}

HRESULT HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem) {
  (void)requestedAccess;
  if (computeSystem == NULL || id == NULL) return E_INVALIDARG;
  *computeSystem = NULL;
  char *id8 = utf8_from_utf16(id);
  pthread_mutex_lock(&g_lock);
  HRESULT hr = S_OK;
  sim_system *s = find_locked(id8);
  if (s == NULL) hr = HCS_E_SYSTEM_NOT_FOUND;
  else {
    sys_handle *sh = (sys_handle *)handle_new_locked(H_SYS, sizeof(sys_handle));
    if (sh == NULL) hr = E_OUTOFMEMORY;
    else {
      sh->system = s;
      s->refs++;
      s->handles++;
      *computeSystem = sh;
    }
  }
  pthread_mutex_unlock(&g_lock);
  free(id8);
  return hr;
}

void HcsCloseComputeSystem(HCS_SYSTEM computeSystem) {
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(computeSystem, H_SYS);
  if (h != NULL) system_handle_close_locked(h);
  else stale_close_locked();
  pthread_mutex_unlock(&g_lock);
}

HRESULT HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions, const void *context, HCS_EVENT_CALLBACK callback) {
  (void)callbackOptions;
  pthread_mutex_lock(&g_lock);
  handle *h = handle_lookup_locked(computeSystem, H_SYS);
  HRESULT hr = S_OK;
  if (h == NULL) hr = HRESULT_ERROR_INVALID_HANDLE;
  else {
    h->callback = (void *)callback;
    h->context = (void *)context;
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  sys_call c;
  char why[160];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr == S_OK) {
    if (c.s->state != SYS_CREATED || c.s->stopping) {
      snprintf(why, sizeof why, "start of '%s' in state %s", c.s->id, state_name(c.s->state));
      hr = fail_locked(c.op, HCS_E_INVALID_STATE, why);
    } else if (c.s->start_hang) {
      /* Accepted, then nothing: only HcsCancelOperation (or closing the operation) ends it. */
      hr = S_OK;
    } else {
      c.s->state = SYS_RUNNING;
      c.s->started_ms = now_ms();
      hr = succeed_locked(c.op, NULL);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  pthread_mutex_lock(&g_lock);
  sys_handle *sh = (sys_handle *)handle_lookup_locked(computeSystem, H_SYS);
  long block = sh == NULL ? 0 : sh->system->shutdown_block_ms;
  pthread_mutex_unlock(&g_lock);
  if (block > 0) {
    /* A call that does not return: what a stuck computecore.dll does to its caller's thread. */
    struct timespec ts = {block / 1000, (block % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
  }
  sys_call c;
  char why[160];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr == S_OK) {
    if (c.s->state == SYS_STOPPED || c.s->stopping || c.s->shutdown_requested) {
      snprintf(why, sizeof why, "shutdown of '%s': it has stopped or is stopping", c.s->id);
      hr = fail_locked(c.op, HCS_E_SYSTEM_ALREADY_STOPPED, why);
    } else {
      c.s->shutdown_requested = 1;
      if (c.s->shutdown_delay_ms <= 0 || !complete_later_locked(c.s, c.op, c.s->shutdown_delay_ms, 1)) {
        begin_shutdown_locked(c.s);
        succeed_locked(c.op, NULL);
      }
    }
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  sys_call c;
  char why[160];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr == S_OK) {
    if (c.s->state == SYS_STOPPED) {
      snprintf(why, sizeof why, "terminate of '%s': it has stopped", c.s->id);
      hr = fail_locked(c.op, HCS_E_SYSTEM_ALREADY_STOPPED, why);
    } else {
      terminate_locked(c.s, "ForcedExit");
      hr = succeed_locked(c.op, NULL);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

static HRESULT pause_or_resume(HCS_SYSTEM computeSystem, HCS_OPERATION operation, int pause) {
  sys_call c;
  char why[160];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr == S_OK) {
    sys_state need = pause ? SYS_RUNNING : SYS_PAUSED;
    if (c.s->windows && !c.s->hyperv) {
      snprintf(why, sizeof why, "'%s' is a process-isolated Windows container: it cannot be paused", c.s->id);
      hr = fail_locked(c.op, E_NOTIMPL, why);
    } else if (c.s->state != need || c.s->stopping) {
      snprintf(why, sizeof why, "%s of '%s' in state %s", pause ? "pause" : "resume", c.s->id, state_name(c.s->state));
      hr = fail_locked(c.op, HCS_E_INVALID_STATE, why);
    } else if (pause) {
      c.s->state = SYS_PAUSED;
      hr = succeed_locked(c.op, NULL);
    } else {
      unpause_locked(c.s);
      for (sim_process *p = c.s->processes; p != NULL; p = p->next) {
        int held = p->held_count;
        p->held_count = 0;
        for (int i = 0; i < held; i++) process_signal_locked(p, p->held_signals[i]);
      }
      hr = succeed_locked(c.op, NULL);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

HRESULT HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  return pause_or_resume(computeSystem, operation, 1);
}

HRESULT HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
  (void)options;
  return pause_or_resume(computeSystem, operation, 0);
}

/* The members every properties document and every enumerated system carries (§6.7: "cached properties"). */
static void write_summary(strbuf *b, sim_system *s) {
  sb_append(b, "\"Id\":");
  sb_json_string(b, s->id);
  sb_append(b, ",\"SystemType\":\"Container\",\"Owner\":");
  sb_json_string(b, s->owner);
  sb_printf(b, ",\"RuntimeOsType\":\"%s\",\"State\":\"%s\"", s->windows ? "Windows" : "Linux", state_name(s->state));
}

/* A simulated process costs 1% of a CPU and 4 MiB, as in the in-memory simulator: figures tests can predict. */
static void write_process_list(strbuf *b, sim_system *s) {
  sb_append(b, "\"ProcessList\":[");
  int first = 1;
  for (sim_process *p = s->processes; p != NULL; p = p->next) {
    if (!p->running) continue;
    int64_t up100ns = (now_ms() - p->created_ms) * 10000;
    if (!first) sb_append(b, ",");
    first = 0;
    sb_printf(b, "{\"ProcessId\":%u,\"ImageName\":", p->pid);
    sb_json_string(b, p->prog.image);
    char when[48];
    wall_time(when, sizeof when);
    sb_printf(b, ",\"CreateTimestamp\":\"%s\",\"KernelTime100ns\":%lld,\"UserTime100ns\":%lld,"
                 "\"MemoryCommitBytes\":4194304,\"MemoryWorkingSetPrivateBytes\":4194304,\"MemoryWorkingSetSharedBytes\":0}",
              when, (long long)(up100ns / 200), (long long)(up100ns / 200));
  }
  sb_append(b, "]");
}

static void write_statistics(strbuf *b, sim_system *s) {
  int64_t up100ns = (now_ms() - s->started_ms) * 10000;
  int live = system_live_processes_locked(s);
  char when[48];
  wall_time(when, sizeof when);
  sb_printf(b,
            "\"Statistics\":{\"Timestamp\":\"%s\",\"Uptime100ns\":%lld,"
            "\"Processor\":{\"TotalRuntime100ns\":%lld,\"RuntimeUser100ns\":%lld,\"RuntimeKernel100ns\":%lld},"
            "\"Memory\":{\"MemoryUsageCommitBytes\":%lld,\"MemoryUsageCommitPeakBytes\":%lld,\"MemoryUsagePrivateWorkingSetBytes\":%lld},"
            "\"Storage\":{\"ReadCountNormalized\":0,\"ReadSizeBytes\":0,\"WriteCountNormalized\":0,\"WriteSizeBytes\":0},"
            "\"ProcessCount\":%d}",
            when, (long long)up100ns, (long long)(up100ns / 100 * live), (long long)(up100ns / 200 * live),
            (long long)(up100ns / 200 * live), (long long)live * 4194304, (long long)live * 4194304, (long long)live * 4194304, live);
}

static void write_resources(strbuf *b, sim_system *s) {
  sb_append(b, "\"PodvisorSimResources\":[");
  for (int i = 0; i < s->resource_count; i++) {
    if (i > 0) sb_append(b, ",");
    sb_append(b, "{\"ResourcePath\":");
    sb_json_string(b, s->resources[i].path);
    sb_append(b, ",\"RequestType\":");
    sb_json_string(b, s->resources[i].type);
    sb_printf(b, ",\"Settings\":%s}", s->resources[i].settings);
  }
  sb_append(b, "]");
}

HRESULT HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR propertyQuery) {
  char *query8 = utf8_from_utf16(propertyQuery);
  sys_call c;
  char why[200];
  jvalue *query = json_parse(query8[0] == 0 ? "{}" : query8);
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr != S_OK) goto out;
  if (query == NULL || query->type != J_OBJECT) {
    hr = fail_locked(c.op, HCS_E_INVALID_JSON, "the property query is not a JSON object");
    goto out;
  }
  strbuf b;
  sb_init(&b);
  sb_append(&b, "{");
  write_summary(&b, c.s);
  for (const jvalue *t = json_get(query, "PropertyTypes") == NULL ? NULL : json_get(query, "PropertyTypes")->children; t != NULL; t = t->next) {
    const char *name = json_str(t);
    if (name == NULL) name = "";
    int needs_running = strcmp(name, "ProcessList") == 0 || strcmp(name, "Statistics") == 0;
    if (needs_running && (c.s->state == SYS_CREATED || c.s->state == SYS_STOPPED)) {
      snprintf(why, sizeof why, "%s of '%s' in state %s", name, c.s->id, state_name(c.s->state));
      free(b.data);
      hr = fail_locked(c.op, HCS_E_INVALID_STATE, why);
      goto out;
    }
    sb_append(&b, ",");
    if (strcmp(name, "ProcessList") == 0) write_process_list(&b, c.s);
    else if (strcmp(name, "Statistics") == 0) write_statistics(&b, c.s);
    else if (strcmp(name, "PodvisorSimResources") == 0) write_resources(&b, c.s);
    else {
      snprintf(why, sizeof why, "property type '%s' is not supported", name);
      free(b.data);
      hr = fail_locked(c.op, E_INVALIDARG, why);
      goto out;
    }
  }
  sb_append(&b, "}");
  hr = succeed_locked(c.op, sb_take(&b));
out:
  pthread_mutex_unlock(&g_lock);
  json_free(query);
  free(query8);
  return hr;
}

/* Checks one modify request; returns NULL when it is well formed, else why not. */
static const char *check_modify(const char *path, const char *type, const jvalue *settings) {
  if (path == NULL || type == NULL || settings == NULL) return "a modify request needs ResourcePath, RequestType and Settings";
  if (strcmp(path, "Container/Memory/SizeInMB") == 0) {
    if (strcmp(type, "Update") != 0) return "Container/Memory/SizeInMB takes an Update";
    if (settings->type != J_NUMBER || settings->number < 0) return "Container/Memory/SizeInMB must be a non-negative number";
    return NULL;
  }
  if (strcmp(path, "Container/Processor") == 0) {
    if (strcmp(type, "Update") != 0 || settings->type != J_OBJECT) return "Container/Processor takes an Update with an object";
    for (const jvalue *c = settings->children; c != NULL; c = c->next) {
      if ((strcmp(c->key, "Count") != 0 && strcmp(c->key, "Maximum") != 0 && strcmp(c->key, "Weight") != 0) || c->type != J_NUMBER) {
        return "Container/Processor settings are numbers among Count, Maximum and Weight";
      }
    }
    return NULL;
  }
  if (strcmp(path, "Container/MappedDirectories") == 0) {
    if (strcmp(type, "Add") != 0) return "Container/MappedDirectories takes an Add";
    if (json_str(json_get(settings, "HostPath")) == NULL || json_str(json_get(settings, "ContainerPath")) == NULL) {
      return "a mapped directory needs HostPath and ContainerPath";
    }
    return NULL;
  }
  return "the resource path is not one the simulator knows";
}

HRESULT HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration, HANDLE identity) {
  (void)identity;
  char *config8 = utf8_from_utf16(configuration);
  jvalue *req = json_parse(config8);
  sys_call c;
  char why[200];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr != S_OK) goto out;
  if (req == NULL || req->type != J_OBJECT) {
    hr = fail_locked(c.op, HCS_E_INVALID_JSON, "the modify request is not a JSON object");
    goto out;
  }
  if (c.s->state == SYS_STOPPED) {
    snprintf(why, sizeof why, "modify of '%s' in state Stopped", c.s->id);
    hr = fail_locked(c.op, HCS_E_INVALID_STATE, why);
    goto out;
  }
  const char *path = json_str(json_get(req, "ResourcePath"));
  const char *type = json_str(json_get(req, "RequestType"));
  const jvalue *settings = json_get(req, "Settings");
  const char *bad = check_modify(path, type, settings);
  if (bad != NULL) {
    hr = fail_locked(c.op, E_INVALIDARG, bad);
    goto out;
  }
  strbuf text;
  sb_init(&text);
  json_write(&text, settings);
  int slot = c.s->resource_count;
  if (strcmp(type, "Update") == 0) {
    for (int i = 0; i < c.s->resource_count; i++) {
      if (strcmp(c.s->resources[i].path, path) == 0) slot = i;
    }
  }
  if (slot == c.s->resource_count) {
    struct resource_entry *next = realloc(c.s->resources, (size_t)(slot + 1) * sizeof *next);
    if (next == NULL) {
      free(text.data);
      hr = fail_locked(c.op, E_OUTOFMEMORY, "out of memory");
      goto out;
    }
    c.s->resources = next;
    c.s->resources[slot] = (struct resource_entry){strdup(path), strdup(type), NULL};
    c.s->resource_count++;
  }
  free(c.s->resources[slot].settings);
  c.s->resources[slot].settings = sb_take(&text);
  hr = succeed_locked(c.op, NULL);
out:
  pthread_mutex_unlock(&g_lock);
  json_free(req);
  free(config8);
  return hr;
}

/* A ComputeSystemQuery filter: absent matches everything, otherwise one of its strings must equal value. */
static int query_matches(const jvalue *filter, const char *value) {
  if (filter == NULL) return 1;
  for (const jvalue *v = filter->children; v != NULL; v = v->next) {
    const char *want = json_str(v);
    if (want != NULL && strcmp(want, value) == 0) return 1;
  }
  return 0;
}

static int is_string_array(const jvalue *v) {
  if (v == NULL) return 1;
  if (v->type != J_ARRAY) return 0;
  for (const jvalue *c = v->children; c != NULL; c = c->next) {
    if (c->type != J_STRING) return 0;
  }
  return 1;
}

HRESULT HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation) {
  char *query8 = utf8_from_utf16(query);
  jvalue *q = json_parse(query8[0] == 0 ? "{}" : query8);
  pthread_mutex_lock(&g_lock);
  sim_op *op = (sim_op *)handle_lookup_locked(operation, H_OP);
  HRESULT hr = op == NULL ? HRESULT_ERROR_INVALID_HANDLE : op_begin_locked(op);
  if (hr != S_OK) goto out;
  if (q == NULL || q->type != J_OBJECT) {
    hr = fail_locked(op, HCS_E_INVALID_JSON, "the query is not a JSON object");
    goto out;
  }
  const jvalue *ids = json_get(q, "Ids"), *owners = json_get(q, "Owners"), *types = json_get(q, "Types");
  if (!is_string_array(ids) || !is_string_array(owners) || !is_string_array(types)) {
    hr = fail_locked(op, E_INVALIDARG, "Ids, Owners and Types are arrays of strings");
    goto out;
  }
  strbuf b;
  sb_init(&b);
  sb_append(&b, "[");
  int first = 1;
  /* Only listed systems: one whose last handle closed after it stopped is gone, as it is from HCS. */
  for (sim_system *s = g_systems; s != NULL; s = s->next) {
    if (!query_matches(ids, s->id) || !query_matches(owners, s->owner) || !query_matches(types, "Container")) continue;
    sb_append(&b, first ? "{" : ",{");
    first = 0;
    write_summary(&b, s);
    sb_append(&b, "}");
  }
  sb_append(&b, "]");
  hr = succeed_locked(op, sb_take(&b));
out:
  pthread_mutex_unlock(&g_lock);
  json_free(q);
  free(query8);
  return hr;
}

/*
 * Save and live migration act on a utility VM's memory and device state. The
 * simulator's systems have none, so each call is refused with E_NOTIMPL, the
 * operation holding the error document as for any failed call.
 */
static HRESULT no_vm_state(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char *what) {
  sys_call c;
  char why[200];
  pthread_mutex_lock(&g_lock);
  HRESULT hr = enter_locked(computeSystem, operation, &c);
  if (hr == S_OK) {
    snprintf(why, sizeof why, "compute system '%s' has no virtual machine state to %s in the simulator", c.s->id, what);
    hr = fail_locked(c.op, E_NOTIMPL, why);
  }
  pthread_mutex_unlock(&g_lock);
  return hr;
}

/* Each export is the same refusal: one line apiece keeps the six signatures next to each other. */
#define REFUSED_WITHOUT_VM_STATE(name, what)                                              \
  HRESULT name(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) { \
    (void)options;                                                                  \
    return no_vm_state(computeSystem, operation, what);                             \
  }

REFUSED_WITHOUT_VM_STATE(HcsSaveComputeSystem, "save")
REFUSED_WITHOUT_VM_STATE(HcsInitializeLiveMigrationOnSource, "migrate")
REFUSED_WITHOUT_VM_STATE(HcsStartLiveMigrationOnSource, "migrate")
REFUSED_WITHOUT_VM_STATE(HcsStartLiveMigrationTransfer, "migrate")
REFUSED_WITHOUT_VM_STATE(HcsFinalizeLiveMigration, "migrate")
REFUSED_WITHOUT_VM_STATE(HcsCancelLiveMigration, "migrate")
