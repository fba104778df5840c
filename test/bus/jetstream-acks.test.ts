/**
 * The event sink's JetStream publish (one inbox for every acknowledgement)
 * against a real nats-server: stored messages resolve, a repeated id is not
 * stored twice, and every way a message can fail to be stored rejects with
 * PublishNotAcked, naming why, instead of resolving.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JetStreamAcks, PublishNotAcked } from '../../src/bus/jetstream-acks.ts';
import { startTestNats, type TestNats } from '../helpers/nats.ts';

let nats: TestNats;
let nc: NatsConnection;
let acks: JetStreamAcks;

beforeEach(async () => {
  nats = await startTestNats();
  nc = await nats.client();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'ACKS', subjects: ['acks.>'], duplicate_window: 60 * 1_000_000_000, max_msg_size: 1024 });
  acks = new JetStreamAcks(nc, 500);
});
afterEach(async () => {
  acks.close();
  await nats.stop();
});

async function stored(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info('ACKS')).state.messages;
}

describe('JetStreamAcks', () => {
  it('resolves once the stream stored the message, in the order published', async () => {
    for (let i = 1; i <= 5; i++) await acks.publish(`acks.${i}`, JSON.stringify({ i }), `m-${i}`);
    expect(await stored()).toBe(5);
    const jsm = await jetstreamManager(nc);
    const third = await jsm.streams.getMessage('ACKS', { seq: 3 });
    expect(third?.subject).toBe('acks.3');
    expect(third?.header.get('Nats-Msg-Id')).toBe('m-3');
    expect(third?.string()).toBe('{"i":3}');
  });

  it('a message sent again with the same id resolves and is stored once', async () => {
    await acks.publish('acks.a', 'one', 'same');
    await acks.publish('acks.a', 'one', 'same');
    expect(await stored()).toBe(1);
  });

  it('many in flight at once each get their own acknowledgement', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => acks.publish(`acks.${i}`, 'x', `many-${i}`)));
    expect(await stored()).toBe(200);
  });

  it('rejects at once when no stream listens on the subject (no responders)', async () => {
    const t = performance.now();
    const err = await acks.publish('nostream.x', 'x', 'n-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishNotAcked);
    expect((err as Error).message).toMatch(/no stream stored the message \(503/);
    // The server's 503, not the 500 ms wait.
    expect(performance.now() - t).toBeLessThan(450);
  });

  it('rejects with the stream\'s reason when the stream refuses the message', async () => {
    const err = await acks.publish('acks.big', 'x'.repeat(4096), 'big-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishNotAcked);
    expect((err as Error).message).toMatch(/the stream refused the message \(\d+\): .*size/i);
    expect(await stored()).toBe(0);
  });

  it('rejects after the bound when nothing acknowledges (a listener that is not a stream)', async () => {
    nc.subscribe('silent.>', { callback: () => undefined });
    await nc.flush();
    const err = await acks.publish('silent.x', 'x', 's-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishNotAcked);
    expect((err as Error).message).toBe('no acknowledgement within 500 ms');
  });

  it('close fails what still waits', async () => {
    nc.subscribe('silent.>', { callback: () => undefined });
    await nc.flush();
    const pending = acks.publish('silent.y', 'x', 's-2').catch((e: unknown) => e);
    acks.close();
    expect(await pending).toBeInstanceOf(PublishNotAcked);
  });
});
