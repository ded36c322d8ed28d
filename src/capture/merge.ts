import type { Packet, PacketSource } from './types.js';

/** Packets queued per input before that input is made to wait. */
const HIGH = 4096;
const LOW = 1024;

interface Lane {
  src: PacketSource;
  queue: Packet[];
  head: number;
  done: boolean;
  resume: (() => void) | null;
}

/**
 * Several captures read as one, in timestamp order (ties keep the order the files were given),
 * so that a connection spanning rotated files reassembles as one. Each input keeps its own
 * stats; packet buffers stay views into their reader's chunks, which live as long as they are
 * referenced.
 */
export class MergedSource {
  private readonly lanes: Lane[];
  private emitting = false;

  constructor(sources: PacketSource[]) {
    this.lanes = sources.map((src) => ({ src, queue: [], head: 0, done: false, resume: null }));
  }

  /**
   * Reads every input, calling onPacket in timestamp order. `onSourceEnd` is told how each input
   * ended (null, or the error that stopped it) as soon as it has, so that damage in one file is
   * reported without stopping the others.
   */
  async read(
    onPacket: (p: Packet) => void,
    between: () => Promise<void> | undefined,
    onSourceEnd: (src: PacketSource, error: unknown) => void,
  ): Promise<void> {
    const emit = (): void => {
      if (this.emitting) return;
      this.emitting = true;
      try {
        for (;;) {
          let best: Lane | null = null;
          for (const lane of this.lanes) {
            if (lane.head < lane.queue.length) {
              if (!best || lane.queue[lane.head].ts < best.queue[best.head].ts) best = lane;
            } else if (!lane.done) {
              return; // this input may still hold an earlier packet
            }
          }
          if (!best) return;
          onPacket(best.queue[best.head]);
          best.queue[best.head++] = undefined as unknown as Packet;
          if (best.head === best.queue.length) { best.queue = []; best.head = 0; }
          if (best.resume && best.queue.length - best.head <= LOW) {
            const r = best.resume;
            best.resume = null;
            r();
          }
        }
      } finally {
        this.emitting = false;
      }
    };
    await Promise.all(this.lanes.map(async (lane) => {
      let error: unknown = null;
      try {
        await lane.src.read((p) => {
          lane.queue.push({ ...p });
          emit();
        }, () => {
          const wait = between();
          if (lane.queue.length - lane.head < HIGH) return wait;
          const drained = new Promise<void>((r) => { lane.resume = r; });
          return wait ? Promise.all([wait, drained]).then(() => undefined) : drained;
        });
      } catch (e) {
        error = e;
      }
      lane.done = true;
      onSourceEnd(lane.src, error);
      emit();
    }));
    emit();
  }
}
