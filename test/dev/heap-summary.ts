// Dev probe: what holds a V8 heap snapshot's memory, without DevTools.
// Run: node --max-old-space-size=4096 --import tsx test/dev/heap-summary.ts file.heapsnapshot [top=30]
// Prints the biggest classes by self size and by retained size (summed over the class's objects
// that no other object of the class dominates), then the biggest single objects by retained size,
// each with its chain of dominators up to a GC root.
import fs from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: heap-summary.ts file.heapsnapshot [top]');
const top = Number(process.argv[3] ?? 30);
const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSize = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const WEAK = edgeTypes.indexOf('weak');
const SHORTCUT = edgeTypes.indexOf('shortcut');
const { nodes, edges, strings } = snap;
const count = nodes.length / NF;

const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += (nodes[i * NF + nEdges] ?? 0) * EF;
  firstEdge[i + 1] = e;
}
const at = (a: number[], i: number) => a[i] ?? 0;
const typeOf = (i: number) => nodeTypes[at(nodes, i * NF + nType)] ?? '?';
const nameOf = (i: number) => strings[at(nodes, i * NF + nName)] ?? '?';
const selfSize = (i: number) => at(nodes, i * NF + nSize);
const label = (i: number) => {
  const t = typeOf(i);
  const n = nameOf(i);
  if (t === 'object' || t === 'closure' || t === 'native' || t === 'synthetic') return `${t}:${n}`;
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return 'string';
  if (t === 'hidden' || t === 'code' || t === 'array') return `${t}:${n.slice(0, 60)}`;
  return t;
};

// Dominators (Cooper, Harvey & Kennedy) over strong edges, from node 0 (the synthetic root).
const order = new Int32Array(count).fill(-1);
const post: number[] = [];
{
  const stack: number[] = [0];
  const cursor = new Uint32Array(count);
  order[0] = -2;
  for (let i = 0; i < count; i++) cursor[i] = firstEdge[i] ?? 0;
  while (stack.length > 0) {
    const v = stack[stack.length - 1] ?? 0;
    const end = firstEdge[v + 1] ?? 0;
    let pushed = false;
    while ((cursor[v] ?? 0) < end) {
      const e = cursor[v] ?? 0;
      cursor[v] = e + EF;
      const t = at(edges, e + eType);
      if (t === WEAK || t === SHORTCUT) continue;
      const w = at(edges, e + eTo) / NF;
      if (order[w] !== -1) continue;
      order[w] = -2;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }
}
const preds: number[][] = Array.from({ length: count }, () => []);
for (let v = 0; v < count; v++) {
  if ((order[v] ?? -1) < 0) continue;
  for (let e = firstEdge[v] ?? 0; e < (firstEdge[v + 1] ?? 0); e += EF) {
    const t = at(edges, e + eType);
    if (t === WEAK || t === SHORTCUT) continue;
    preds[at(edges, e + eTo) / NF]?.push(v);
  }
}
const idom = new Int32Array(count).fill(-1);
idom[0] = 0;
const intersect = (a0: number, b0: number) => {
  let a = a0;
  let b = b0;
  while (a !== b) {
    while ((order[a] ?? 0) < (order[b] ?? 0)) a = idom[a] ?? 0;
    while ((order[b] ?? 0) < (order[a] ?? 0)) b = idom[b] ?? 0;
  }
  return a;
};
for (let changed = true; changed; ) {
  changed = false;
  for (let k = post.length - 2; k >= 0; k--) {
    const v = post[k] ?? 0;
    let d = -1;
    for (const p of preds[v] ?? []) {
      if (idom[p] === -1) continue;
      d = d === -1 ? p : intersect(p, d);
    }
    if (d !== -1 && idom[v] !== d) {
      idom[v] = d;
      changed = true;
    }
  }
}
const retained = new Float64Array(count);
for (const v of post) retained[v] = (retained[v] ?? 0) + selfSize(v);
for (const v of post)
  if (v !== 0) retained[idom[v] ?? 0] = (retained[idom[v] ?? 0] ?? 0) + (retained[v] ?? 0);

const mb = (n: number) => `${(n / 1_048_576).toFixed(2)} MB`;
const bySelf = new Map<string, { size: number; count: number; retained: number }>();
for (let v = 0; v < count; v++) {
  if ((order[v] ?? -1) < 0) continue;
  const key = label(v);
  const entry = bySelf.get(key) ?? { size: 0, count: 0, retained: 0 };
  entry.size += selfSize(v);
  entry.count++;
  // Counted once per class: only objects whose dominator chain holds no other object of the class.
  let d = idom[v] ?? 0;
  while (d !== 0 && label(d) !== key) d = idom[d] ?? 0;
  if (d === 0) entry.retained += retained[v] ?? 0;
  bySelf.set(key, entry);
}
let total = 0;
for (let v = 0; v < count; v++) if ((order[v] ?? -1) >= 0) total += selfSize(v);
console.log(`reachable: ${mb(total)} in ${post.length} objects`);
const table = (title: string, key: 'size' | 'retained') => {
  console.log(`\n${title}`);
  for (const [name, e] of [...bySelf].sort((a, b) => b[1][key] - a[1][key]).slice(0, top)) {
    console.log(`${mb(e[key]).padStart(10)}  ×${String(e.count).padStart(7)}  ${name}`);
  }
};
table('by self size', 'size');
table('by retained size', 'retained');

const edgeName = (from: number, to: number) => {
  for (let e = firstEdge[from] ?? 0; e < (firstEdge[from + 1] ?? 0); e += EF) {
    if (at(edges, e + eTo) / NF !== to) continue;
    const t = edgeTypes[at(edges, e + eType)];
    const n = at(edges, e + eName);
    return t === 'element' || t === 'hidden' ? `[${n}]` : `.${strings[n] ?? n}`;
  }
  return '';
};
console.log('\nbiggest objects by retained size (dominator chain, root first)');
const candidates = [...post].filter((v) => v !== 0 && typeOf(v) !== 'synthetic');
candidates.sort((a, b) => (retained[b] ?? 0) - (retained[a] ?? 0));
for (const v of candidates.slice(0, top)) {
  const chain: string[] = [];
  for (let c = v; c !== 0 && chain.length < 12; c = idom[c] ?? 0) {
    const parent = idom[c] ?? 0;
    chain.unshift(`${label(c)}${parent === 0 ? '' : ` (${edgeName(parent, c)})`}`);
  }
  console.log(`${mb(retained[v] ?? 0).padStart(10)}  ${chain.join(' → ')}`);
}

// HOLDERS=label[,label…]: for the objects of those classes, who points at them (class and edge
// name), summed by self size: what a flat list of small objects belongs to.
for (const wanted of (process.env.HOLDERS ?? '').split(',').filter(Boolean)) {
  const holders = new Map<string, { size: number; count: number }>();
  for (let v = 0; v < count; v++) {
    if ((order[v] ?? -1) < 0 || label(v) !== wanted) continue;
    const seen = new Set<string>();
    for (const p of preds[v] ?? []) {
      const key = `${label(p)} ${edgeName(p, v)}`.replace(/\[\d+\]$/, '[n]');
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = holders.get(key) ?? { size: 0, count: 0 };
      entry.size += selfSize(v);
      entry.count++;
      holders.set(key, entry);
    }
  }
  console.log(`\nwho points at ${wanted} (self size of the objects pointed at)`);
  for (const [name, e] of [...holders].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
    console.log(`${mb(e.size).padStart(10)}  ×${String(e.count).padStart(7)}  ${name}`);
  }
}
