import { Subject, type Observable, type Subscription } from 'rxjs';
import type { BackendNotification } from '../hcs/backend.ts';

/**
 * Splits the backend's single notification stream by compute system, so a
 * notification costs a map lookup rather than a filter per task: with ten
 * thousand tasks resident, one exit must not wake them all.
 */
export class NotificationRouter {
  private readonly systems = new Map<string, Subject<BackendNotification>>();
  private readonly subscription: Subscription;

  constructor(source: Observable<BackendNotification>, onError: (err: unknown) => void) {
    this.subscription = source.subscribe({
      next: (n) => this.systems.get(n.systemId)?.next(n),
      error: (err: unknown) => onError(err),
      complete: () => {
        for (const s of this.systems.values()) s.complete();
      },
    });
  }

  /** The notifications of one system, hot; complete once {@link release} is called. */
  system(systemId: string): Observable<BackendNotification> {
    let subject = this.systems.get(systemId);
    if (subject === undefined) {
      subject = new Subject<BackendNotification>();
      this.systems.set(systemId, subject);
    }
    return subject.asObservable();
  }

  release(systemId: string): void {
    const subject = this.systems.get(systemId);
    this.systems.delete(systemId);
    subject?.complete();
  }

  get routed(): number {
    return this.systems.size;
  }

  close(): void {
    this.subscription.unsubscribe();
    for (const s of this.systems.values()) s.complete();
    this.systems.clear();
  }
}
