// Dev probe: a sampling heap profile (.heapprofile, e.g. from heap-after-joins.ts ALLOC_PROFILE=…)
// summarised: bytes allocated by function (self) and by where the code lives (package or repo
// path), then inclusive bytes of the functions of this repository, to see which code the GC works for.
// Run: node --import tsx test/dev/alloc-summary.ts file.heapprofile [top=25]
import fs from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: alloc-summary.ts file.heapprofile [top]');
const top = Number(process.argv[3] ?? 25);
const { head } = JSON.parse(fs.readFileSync(file, 'utf8')) as { head: ProfileNode };

const where = (url: string) => {
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const own = /\/work\/[^/]+\/(.*)$/.exec(url);
  if (own?.[1]) return own[1];
  return url === '' ? '(native/vm)' : url.replace(/^node:/, 'node:');
};
const frame = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const byPlace = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
const walk = (n: ProfileNode, stack: Set<string>): number => {
  const key = frame(n);
  self.set(key, (self.get(key) ?? 0) + n.selfSize);
  const place = where(n.callFrame.url);
  byPlace.set(place, (byPlace.get(place) ?? 0) + n.selfSize);
  total += n.selfSize;
  const fresh = !stack.has(key);
  if (fresh) stack.add(key);
  let sum = n.selfSize;
  for (const c of n.children) sum += walk(c, stack);
  if (fresh) {
    stack.delete(key);
    // Only the repository's own functions: what our code causes, whoever allocates below it.
    if (/^(packages|services|test)\//.test(place)) inclusive.set(key, (inclusive.get(key) ?? 0) + sum);
  }
  return sum;
};
walk(head, new Set());
const mb = (n: number) => `${(n / 1_048_576).toFixed(1)} MB`;
const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${mb(v).padStart(10)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`sampled allocations: ${mb(total)}`);
print('by where the allocating code lives', byPlace);
print('by allocating function', self);
print("inclusive, this repository's functions", inclusive);
