// Drives Granary through TypeScript clients generated from its OpenAPI 3
// documents (openapi-typescript types, openapi-fetch calls), unpatched.
// Usage: node client.js METADATA_URL COORDINATOR_URL. It throws on the
// first mismatch; its last line is "ok".
import createClient from "openapi-fetch";
import type { paths as MetadataPaths } from "./metadata.js";
import type { paths as DatanodePaths } from "./datanode.js";
import type { paths as CoordinatorPaths } from "./coordinator.js";

// Node's process, without @types/node.
declare const process: { argv: string[]; exit(code: number): never };

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error("check failed: " + what);
}

const [metadataURL, coordinatorURL] = process.argv.slice(2);
const meta = createClient<MetadataPaths>({ baseUrl: metadataURL });
const coord = createClient<CoordinatorPaths>({ baseUrl: coordinatorURL });
const user = "ts";
const dir = "tmp/ts-sdk";

async function main(): Promise<void> {
  const mk = await meta.PUT("/webhdfs/v1/{path}", { params: { path: { path: dir }, query: { op: "MKDIRS", "user.name": user } } });
  check(mk.response.status === 200 && mk.data?.boolean === true, "MKDIRS " + mk.response.status);

  // Two-step CREATE: the metadata service names a datanode, which takes the bytes.
  const body = new TextEncoder().encode("bytes written through a generated TypeScript client\n");
  const create = await meta.PUT("/webhdfs/v1/{path}", {
    params: { path: { path: dir + "/f" }, query: { op: "CREATE", "user.name": user, noredirect: true } },
  });
  check(create.response.status === 200 && create.data?.Location, "CREATE noredirect " + create.response.status);
  const loc = new URL(create.data.Location);
  const dn = createClient<DatanodePaths>({ baseUrl: loc.origin });
  const q = Object.fromEntries(loc.searchParams) as Record<string, string>;
  const put = await dn.PUT("/webhdfs/v1/{path}", {
    params: {
      path: { path: loc.pathname.replace(/^\/webhdfs\/v1\//, "") },
      query: { op: "CREATE", namenoderpcaddress: q.namenoderpcaddress, "user.name": q["user.name"] },
    },
    body: body as unknown as string,
    bodySerializer: (b: unknown) => b as BodyInit,
    headers: { "Content-Type": "application/octet-stream" },
  });
  check(put.response.status === 201, "datanode CREATE " + put.response.status);

  const list = await meta.GET("/webhdfs/v1/{path}", { params: { path: { path: dir }, query: { op: "LISTSTATUS", "user.name": user } } });
  const entries = list.data?.FileStatuses?.FileStatus ?? [];
  check(entries.length === 1 && entries[0].pathSuffix === "f", "LISTSTATUS " + JSON.stringify(list.data));

  const st = await meta.GET("/webhdfs/v1/{path}", { params: { path: { path: dir + "/f" }, query: { op: "GETFILESTATUS", "user.name": user } } });
  check(st.data?.FileStatus?.length === body.length && st.data.FileStatus.type === "FILE", "GETFILESTATUS " + JSON.stringify(st.data));

  // OPEN: the metadata service names a datanode, which streams the bytes.
  const open = await meta.GET("/webhdfs/v1/{path}", {
    params: { path: { path: dir + "/f" }, query: { op: "OPEN", "user.name": user, noredirect: true } },
  });
  check(open.data?.Location, "OPEN noredirect " + open.response.status);
  const oloc = new URL(open.data.Location);
  const oq = Object.fromEntries(oloc.searchParams) as Record<string, string>;
  const dn2 = createClient<DatanodePaths>({ baseUrl: oloc.origin });
  const read = await dn2.GET("/webhdfs/v1/{path}", {
    params: {
      path: { path: oloc.pathname.replace(/^\/webhdfs\/v1\//, "") },
      query: { op: "OPEN", namenoderpcaddress: oq.namenoderpcaddress, "user.name": oq["user.name"] },
    },
    parseAs: "arrayBuffer",
  });
  check(read.response.status === 200 && read.response.headers.get("Content-Type") === "application/octet-stream", "datanode OPEN " + read.response.status);
  const got = new Uint8Array(read.data as ArrayBuffer);
  check(got.length === body.length && got.every((b, i) => b === body[i]), "OPEN bytes");

  const del = await meta.DELETE("/webhdfs/v1/{path}", { params: { path: { path: dir }, query: { op: "DELETE", "user.name": user, recursive: true } } });
  check(del.data?.boolean === true, "DELETE " + JSON.stringify(del.data));

  const dns = await coord.GET("/api/v1/datanodes");
  check((dns.data?.datanodes ?? []).length === 3, "datanode list " + JSON.stringify(dns.data));
  console.log("ok");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
