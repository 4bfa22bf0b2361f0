// Granary metadata web UI: hash-routed pages that read /jmx,
// /startupProgress and WebHDFS from the same origin. No framework.
"use strict";

const page = document.getElementById("page");
const errorBox = document.getElementById("error");
let timer = null;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e;
}

function table(headers, rows, rowClass) {
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r, i) => el("tr", { class: rowClass ? rowClass(i) : "" },
      ...r.map((c, j) => el("td", { "data-h": headers[j] }, c))))));
}

function kv(pairs) {
  return el("table", { class: "kv" }, el("tbody", {}, ...pairs.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))));
}

function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(2) : n) + " " + u[i];
}

function bar(pct) {
  const s = el("span", {});
  s.style.width = Math.max(0, Math.min(100, pct)) + "%";
  return el("span", { class: "bar", title: pct.toFixed(2) + "%" }, s);
}

function when(ms) { return ms > 0 ? new Date(ms).toLocaleString() : "never"; }

async function getJSON(url, opts) {
  const r = await fetch(url, opts);
  const body = await r.json();
  if (!r.ok) {
    const e = body && body.RemoteException;
    throw new Error(e ? e.exception + ": " + e.message : r.status + " " + r.statusText);
  }
  return body;
}

async function beans() {
  const j = await getJSON("jmx");
  const out = {};
  for (const b of j.beans) out[b.name.split("name=")[1]] = b;
  return out;
}

function user() { return localStorage.getItem("granary.user") || "dr.who"; }

// Pages ---------------------------------------------------------------------

async function overview() {
  const b = await beans();
  const info = b.NameNodeInfo, st = b.FSNamesystemState, fs = b.FSNamesystem, status = b.NameNodeStatus;
  const safe = info.Safemode ? el("p", { class: "safemode", id: "safemode" }, info.Safemode) : el("p", { class: "ok", id: "safemode" }, "Safe mode is OFF.");
  const ha = [["HA state", el("span", { id: "ha-state", class: status.State === "active" ? "ok" : "safemode" }, status.State)]];
  if (status.NamenodeId) ha.push(["Namenode ID", status.NamenodeId]);
  if (status.ActiveCoordinator) ha.push(["Active coordinator", el("span", { id: "active-coordinator" }, status.ActiveCoordinator)]);
  return [
    el("h2", {}, "Overview '" + status.HostAndPort + "' (" + status.State + ")"),
    kv([...ha, ["Cluster ID", info.ClusterId], ["Block pool ID", info.BlockPoolId], ["Version", info.Version], ["Started", when(info.NNStartedTimeInMillis)]]),
    el("h2", {}, "Summary"), safe,
    kv([
      ["Files and directories", el("span", { id: "total-files" }, info.TotalFiles)],
      ["Blocks", el("span", { id: "total-blocks" }, info.TotalBlocks)],
      ["Configured capacity", bytes(info.Total)],
      ["DFS used", el("span", {}, bytes(info.Used) + " (" + info.PercentUsed.toFixed(2) + "%) ", bar(info.PercentUsed))],
      ["Non DFS used", bytes(info.NonDfsUsedSpace)],
      ["DFS remaining", bytes(info.Free) + " (" + info.PercentRemaining.toFixed(2) + "%)"],
      ["Block pool used", bytes(info.BlockPoolUsedSpace)],
      ["Live nodes", el("a", { href: "#datanodes", id: "live-nodes" }, st.NumLiveDataNodes)],
      ["Stale nodes", el("span", { id: "stale-nodes" }, st.NumStaleDataNodes)],
      ["Dead nodes", el("a", { href: "#datanodes", id: "dead-nodes" }, st.NumDeadDataNodes)],
      ["Decommissioning nodes", el("span", { id: "decom-nodes" }, st.NumDecommissioningDataNodes)],
      ["Volume failures", st.VolumeFailuresTotal],
      ["Under-replicated blocks", el("span", { id: "under-replicated" }, st.UnderReplicatedBlocks)],
      ["Missing blocks", el("span", { id: "missing-blocks" }, info.NumberOfMissingBlocks)],
      ["Last checkpoint", when(fs.LastCheckpointTime)],
      ["Transactions since last checkpoint", fs.TransactionsSinceLastCheckpoint],
    ]),
  ];
}

// none stands in a table with no rows.
function rowsOrNone(rows, width) {
  return rows.length ? rows : [[el("span", { class: "none" }, "none"), ...Array(width - 1).fill("")]];
}

async function datanodes() {
  const info = (await getJSON("jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")).beans[0];
  const live = JSON.parse(info.LiveNodes), dead = JSON.parse(info.DeadNodes), decom = JSON.parse(info.DecomNodes);
  // A datanode's name links to its own page, served by the datanode.
  const node = (k, n) => el("a", { href: "http://" + n.infoAddr + "/", class: "dn" }, k);
  const liveRows = Object.entries(live).sort().map(([k, n]) => [node(k, n), n.lastContact + " s",
    n.lastBlockReport < 0 ? "never" : n.lastBlockReport + " min", n.adminState, bytes(n.capacity),
    el("span", {}, bytes(n.used) + " ", bar(n.capacity ? 100 * n.used / n.capacity : 0)), bytes(n.nonDfsUsedSpace),
    n.volfails, n.numBlocks, n.storageTypes || "DISK", n.version]);
  const deadRows = Object.entries(dead).sort().map(([k, n]) => [k, n.lastContact + " s", n.adminState]);
  const decomRows = Object.entries(decom).sort().map(([k, n]) => [k, n.xferaddr]);
  const liveHead = ["Node", "Last contact", "Last block report", "Admin state", "Capacity", "Used", "Non DFS used", "Failed volumes", "Blocks", "Storage types", "Version"];
  return [
    el("h2", {}, "In operation (" + liveRows.length + ")"),
    el("div", { id: "live-table" }, table(liveHead, rowsOrNone(liveRows, liveHead.length))),
    el("h2", {}, "Dead (" + deadRows.length + ")"),
    el("div", { id: "dead-table" }, table(["Node", "Last contact", "Admin state"], rowsOrNone(deadRows, 3), () => deadRows.length ? "dead" : "")),
    el("h2", {}, "Decommissioning (" + decomRows.length + ")"),
    el("div", { id: "decom-table" }, table(["Node", "Address"], rowsOrNone(decomRows, 2))),
  ];
}

async function startup() {
  const p = await getJSON("startupProgress");
  const rows = p.phases.map(ph => [ph.desc, ph.status,
    (ph.steps || []).map(s => s.name + " " + s.count + (s.total ? "/" + s.total : "")).join(", "),
    el("span", {}, (100 * ph.percentComplete).toFixed(0) + "% ", bar(100 * ph.percentComplete)), (ph.elapsedTime / 1000).toFixed(1) + " s"]);
  return [
    el("h2", {}, "Startup progress"),
    el("p", { id: "startup-total" }, "Elapsed " + (p.elapsedTime / 1000).toFixed(1) + " s, " + (100 * p.percentComplete).toFixed(0) + "% complete"),
    table(["Phase", "Status", "Counts", "Complete", "Elapsed"], rows),
  ];
}

function webhdfs(path, op, extra) {
  return "webhdfs/v1" + path.split("/").map(encodeURIComponent).join("/") + "?op=" + op + "&user.name=" + encodeURIComponent(user()) + (extra || "");
}

// crumbs links every ancestor of path: / a / b / f (no slash after the last).
function crumbs(path) {
  const parts = path.split("/").filter(Boolean);
  const out = [el("a", { href: "#browse/" }, "/")];
  parts.forEach((p, i) => out.push(i ? " / " : " ", el("a", { href: "#browse/" + parts.slice(0, i + 1).join("/") }, p)));
  return el("p", { id: "breadcrumbs" }, ...out);
}

async function act(fn) {
  try { await fn(); route(); } catch (e) { showError(e); }
}

async function browse(path) {
  const userForm = el("form", { id: "user-form", onsubmit: ev => { ev.preventDefault(); localStorage.setItem("granary.user", ev.target.u.value); route(); } },
    "User ", el("input", { name: "u", value: user(), size: 10 }), el("button", {}, "Set"));
  let st, list;
  try {
    st = (await getJSON(webhdfs(path, "GETFILESTATUS"))).FileStatus;
    if (st.type === "DIRECTORY") list = (await getJSON(webhdfs(path, "LISTSTATUS"))).FileStatuses.FileStatus;
  } catch (e) {
    // A refusal (permission, missing path) keeps the page: the user box to
    // switch user and the way back, with the RemoteException in place.
    return [el("h2", {}, "Browse directory"), crumbs(path), userForm, el("p", { class: "error", id: "browse-error" }, e.message)];
  }
  if (st.type !== "DIRECTORY") return fileDetails(path, st, userForm);
  const base = path.endsWith("/") ? path : path + "/";
  const rows = list.map(f => [
    (f.type === "DIRECTORY" ? "d" : "-") + perm(f.permission), f.owner, f.group, f.type === "DIRECTORY" ? "" : bytes(f.length),
    when(f.modificationTime), f.type === "DIRECTORY" ? "" : f.replication, f.type === "DIRECTORY" ? "" : bytes(f.blockSize),
    el("a", { href: "#browse" + base + f.pathSuffix, class: "entry" }, f.pathSuffix),
    el("button", { onclick: () => confirm("Delete " + base + f.pathSuffix + "?") && act(() => getJSON(webhdfs(base + f.pathSuffix, "DELETE", "&recursive=true"), { method: "DELETE" })) }, "Delete"),
  ]);
  const mkdir = el("form", { id: "mkdir", onsubmit: ev => { ev.preventDefault(); act(() => getJSON(webhdfs(base + ev.target.d.value, "MKDIRS"), { method: "PUT" })); } },
    el("input", { name: "d", placeholder: "new directory", required: "" }), el("button", {}, "Create directory"));
  const rename = el("form", { id: "rename", onsubmit: ev => { ev.preventDefault(); act(() => getJSON(webhdfs(base + ev.target.s.value, "RENAME", "&destination=" + encodeURIComponent(ev.target.t.value)), { method: "PUT" })); } },
    el("input", { name: "s", placeholder: "name", required: "" }), el("input", { name: "t", placeholder: "to /absolute/path", required: "" }), el("button", {}, "Rename"));
  const upload = el("form", { id: "upload", onsubmit: ev => { ev.preventDefault(); act(() => uploadFile(base, ev.target.f.files[0])); } },
    el("input", { name: "f", type: "file", required: "" }), el("button", {}, "Upload"));
  return [el("h2", {}, "Browse directory"), crumbs(path), userForm, mkdir, rename, upload,
    el("div", { id: "listing" }, table(["Permission", "Owner", "Group", "Size", "Last modified", "Replication", "Block size", "Name", ""], rows))];
}

// uploadFile is WebHDFS's two-step CREATE: the metadata service names the
// datanode (noredirect=true), the browser sends the bytes there.
async function uploadFile(dir, file) {
  const loc = (await getJSON(webhdfs(dir + file.name, "CREATE", "&overwrite=false&noredirect=true"), { method: "PUT" })).Location;
  const r = await fetch(loc, { method: "PUT", body: file });
  if (r.status !== 201) {
    const body = await r.json().catch(() => null);
    const e = body && body.RemoteException;
    throw new Error(e ? e.exception + ": " + e.message : "upload failed: " + r.status);
  }
}

// perm renders a WebHDFS octal permission as ls does: the sticky bit (1000)
// shows as t (or T without other-execute) in the last place.
function perm(octal) {
  const p = parseInt(octal, 8), s = "rwxrwxrwx";
  let out = "";
  for (let i = 0; i < 9; i++) out += (p & (1 << (8 - i))) ? s[i] : "-";
  if (p & 0o1000) out = out.slice(0, 8) + ((p & 1) ? "t" : "T");
  return out;
}

async function fileDetails(path, st, userForm) {
  const lb = (await getJSON("api/v1/blockLocations?path=" + encodeURIComponent(path) + "&user.name=" + encodeURIComponent(user()))).LocatedBlocks;
  const rows = lb.locatedBlocks.map(b => [b.block.blockId, b.block.generationStamp, bytes(b.block.numBytes),
    b.locations.map(l => l.hostName + ":" + l.infoPort).join(", ")]);
  return [el("h2", {}, "File information"), crumbs(path), userForm,
    kv([["Size", bytes(st.length)], ["Replication", st.replication], ["Block size", bytes(st.blockSize)], ["Owner", st.owner + ":" + st.group],
      ["Permission", "-" + perm(st.permission)], ["Last modified", when(st.modificationTime)]]),
    el("p", {}, el("a", { href: webhdfs(path, "OPEN"), id: "download", download: path.split("/").pop() }, "Download")),
    el("div", { id: "blocks" }, table(["Block ID", "Generation stamp", "Length", "Locations"], rowsOrNone(rows, 4))),
    ...(await preview(path, st.length))];
}

// preview shows a file's first and last 32 KB as text (HDFS's head/tail).
async function preview(path, length) {
  if (length === 0) return [];
  const piece = 32 * 1024;
  const read = async (offset) => {
    const r = await fetch(webhdfs(path, "OPEN", "&offset=" + offset + "&length=" + piece));
    return r.ok ? await r.text() : "(" + r.status + ")";
  };
  const out = [el("h3", {}, "Head (first 32 KB)"), el("pre", { id: "head" }, await read(0))];
  if (length > piece) out.push(el("h3", {}, "Tail (last 32 KB)"), el("pre", { id: "tail" }, await read(length - piece)));
  return out;
}

// Utilities -----------------------------------------------------------------

async function conf() {
  const props = (await getJSON("conf")).properties;
  return [el("h2", {}, "Configuration"), el("div", { id: "conf-table" }, table(["Key", "Value", "Source"], props.map(p => [p.key, p.value, p.resource])))];
}

async function logs() {
  const r = await fetch("logs");
  return [el("h2", {}, "Logs (the last 1000 lines)"), el("pre", { id: "log-lines" }, await r.text())];
}

// Routing -------------------------------------------------------------------

function showError(e) {
  errorBox.textContent = String(e.message || e);
  errorBox.hidden = false;
}

async function render() {
  const h = location.hash.slice(1) || "overview";
  const name = h.split("/")[0];
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + name);
  let kids;
  switch (name) {
    case "datanodes": kids = await datanodes(); break;
    case "startup": kids = await startup(); break;
    case "conf": kids = await conf(); break;
    case "logs": kids = await logs(); break;
    case "browse": kids = await browse("/" + decodeURIComponent(h.slice("browse/".length)).replace(/^\/+/, "")); break;
    default: kids = await overview();
  }
  page.replaceChildren(...kids);
  errorBox.hidden = true;
  page.dataset.loaded = h;
}

function route() {
  clearInterval(timer);
  const name = (location.hash.slice(1) || "overview").split("/")[0];
  render().catch(showError);
  if (name !== "browse" && name !== "conf" && name !== "logs") timer = setInterval(() => render().catch(showError), name === "startup" ? 1000 : 5000);
}

window.addEventListener("hashchange", route);
route();
