import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { renderInvoicePdf, type InvoiceDocument } from './pdf.js';

/**
 * Invoice rendering off the event loop: PDFKit layout and font subsetting are ~15–25 ms of synchronous
 * CPU per invoice, so on the worker's main thread every render stalls every other job (and at one job at
 * a time leaves the other cores idle). The pool runs one renderer thread per core; each renders one
 * document at a time, and documents queue here. The threads are unref'd: an idle pool keeps no process
 * alive, and a process that exits takes them along.
 *
 * If a thread cannot even start (a runtime without worker threads, or without the TypeScript loader in
 * development) the pool renders on the calling thread instead, as before, rather than failing every job.
 */
export interface RenderPool {
  readonly size: number;
  render(doc: InvoiceDocument): Promise<Buffer>;
  close(): Promise<void>;
}

interface Task {
  id: number;
  doc: InvoiceDocument;
  resolve: (pdf: Buffer) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  task: Task | undefined;
  /** The thread loaded its module (it said so): a failure before that means threads cannot run here. */
  online: boolean;
}

// Under tsx (tests, bench, development) this module is TypeScript and so is the thread's entry point; a
// thread does not inherit the loader's hooks, so it registers tsx itself before importing it.
const typescript = import.meta.url.endsWith('.ts');
const threadUrl = new URL(`./render-thread${typescript ? '.ts' : '.js'}`, import.meta.url).href;
const bootstrap = typescript
  ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(threadUrl)}); });`
  : `import(${JSON.stringify(threadUrl)});`;

export function createRenderPool(size = availableParallelism()): RenderPool {
  const threads: Thread[] = [];
  const queue: Task[] = [];
  let nextId = 1;
  let inline = false;
  let closed = false;

  const spawn = (): Thread => {
    const thread: Thread = { worker: new Worker(bootstrap, { eval: true }), task: undefined, online: false };
    thread.worker.unref();
    thread.worker.on('message', (message: { ready?: true; id: number; pdf?: Uint8Array; error?: string }) => {
      if (message.ready) return void (thread.online = true);
      const task = thread.task;
      if (!task || task.id !== message.id) return;
      thread.task = undefined;
      if (message.pdf) task.resolve(Buffer.from(message.pdf.buffer, message.pdf.byteOffset, message.pdf.byteLength));
      else task.reject(new Error(`invoice render failed: ${message.error ?? 'unknown error'}`));
      next(thread);
    });
    // A thread that dies takes its document with it (the job fails and BullMQ retries); a fresh thread
    // replaces it. One that never came up means threads cannot run here: render inline from now on.
    thread.worker.on('error', (err) => fail(thread, err));
    thread.worker.on('exit', (code) => fail(thread, new Error(`invoice render thread exited (${code})`)));
    return thread;
  };

  function fail(thread: Thread, err: Error) {
    const at = threads.indexOf(thread);
    if (at < 0) return;
    threads.splice(at, 1);
    void thread.worker.terminate().catch(() => {});
    if (!thread.online) inline = true;
    const task = thread.task;
    thread.task = undefined;
    if (task) {
      if (inline) run(task);
      else task.reject(err);
    }
    drain();
  }

  function run(task: Task) {
    if (inline) {
      renderInvoicePdf(task.doc).then(task.resolve, task.reject);
      return;
    }
    const thread = threads.find((t) => !t.task) ?? (threads.length < size ? (threads.push(spawn()), threads.at(-1)!) : undefined);
    if (!thread) {
      queue.push(task);
      return;
    }
    thread.task = task;
    // Only while a render is in flight does a thread hold the process open (the job awaits it anyway).
    thread.worker.ref();
    thread.worker.postMessage({ id: task.id, doc: task.doc });
  }

  function next(thread: Thread) {
    const task = queue.shift();
    if (!task) {
      thread.worker.unref();
      return;
    }
    thread.task = task;
    thread.worker.postMessage({ id: task.id, doc: task.doc });
  }

  function drain() {
    while (queue.length && (inline || threads.length < size || threads.some((t) => !t.task))) run(queue.shift()!);
  }

  return {
    size,
    render(doc) {
      if (closed) return renderInvoicePdf(doc);
      return new Promise<Buffer>((resolve, reject) => run({ id: nextId++, doc, resolve, reject }));
    },
    async close() {
      closed = true;
      const all = threads.splice(0);
      for (const task of queue.splice(0)) renderInvoicePdf(task.doc).then(task.resolve, task.reject);
      await Promise.all(
        all.map(async (t) => {
          t.task?.reject(new Error('invoice render pool closed'));
          await t.worker.terminate();
        }),
      );
    },
  };
}

let shared: RenderPool | undefined;
/** The process's pool, made on first use. */
export function invoiceRenderPool(): RenderPool {
  return (shared ??= createRenderPool());
}
