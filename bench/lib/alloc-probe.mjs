// Loaded into a bench server with `node --import ./bench/lib/alloc-probe.mjs` by
// bench/handshake-alloc.mjs. Each SIGUSR2 marks a point on stdout ("probe mark N", in order
// with V8's --trace-gc-nvp lines, which go to the same stdout); with ALLOC_PROBE=sample the first
// one also starts V8's sampling heap profiler (collected objects included) and the second stops
// it and prints one line "probe-profile <json>": the allocation profile's nodes, flattened. It
// also prints "probe-spaces <json>" (V8's heap spaces) at every mark after the first.
import { Session } from 'node:inspector';
import v8 from 'node:v8';

const sampling = process.env.ALLOC_PROBE === 'sample';
let marks = 0;
let session = null;

function post(method, params) {
  return new Promise((resolve, reject) => {
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Every node of the profile as { stack: ['fn url:line', ...] (outermost first), self }. */
function flatten(head) {
  const out = [];
  const walk = (node, stack) => {
    const f = node.callFrame;
    const here = [
      ...stack,
      `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\/[a-z]+\//, 'riptide/').replace(/^file:.*\//, '')}:${f.lineNumber + 1}`,
    ];
    if (node.selfSize > 0) out.push({ stack: here, self: node.selfSize });
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  return out;
}

process.on('SIGUSR2', async () => {
  marks++;
  const n = marks;
  if (n === 1 && sampling) {
    session = new Session();
    session.connect();
    await post('HeapProfiler.startSampling', {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  process.stdout.write(`probe mark ${n}\n`);
  if (n > 1) {
    const spaces = Object.fromEntries(
      v8
        .getHeapSpaceStatistics()
        .map((s) => [
          s.space_name,
          { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size },
        ]),
    );
    process.stdout.write(`probe-spaces ${JSON.stringify(spaces)}\n`);
  }
  if (n === 2 && sampling) {
    const { profile } = await post('HeapProfiler.stopSampling');
    session.disconnect();
    process.stdout.write(`probe-profile ${JSON.stringify(flatten(profile.head))}\n`);
  }
});
