// Drives Granary with the npm webhdfs client, unpatched.
// Usage: node client.js HOST PORT BASE. Prints "ok" when every step read
// back what it wrote.
const WebHDFS = require('webhdfs');
const assert = require('assert');
const [host, port, base] = process.argv.slice(2);
const hdfs = WebHDFS.createClient({ user: 'hdfs', host, port: Number(port), path: '/webhdfs/v1' });
const p = (fn, ...args) => new Promise((resolve, reject) => fn.call(hdfs, ...args, (err, res) => (err ? reject(err) : resolve(res))));

(async () => {
  await p(hdfs.mkdir, base, '0755');
  const data = 'hello through the router\n'.repeat(1000);
  await p(hdfs.writeFile, base + '/a', data);
  const back = await p(hdfs.readFile, base + '/a');
  assert.strictEqual(back.toString(), data, 'readFile');
  const names = (await p(hdfs.readdir, base)).map((s) => s.pathSuffix);
  assert.deepStrictEqual(names, ['a'], 'readdir');
  await p(hdfs.rename, base + '/a', base + '/b');
  const st = await p(hdfs.stat, base + '/b');
  assert.strictEqual(st.length, data.length, 'stat');
  await p(hdfs.unlink, base + '/b', false);
  await assert.rejects(p(hdfs.stat, base + '/b'), 'deleted');
  console.log('ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
