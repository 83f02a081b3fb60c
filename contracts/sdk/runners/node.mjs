#!/usr/bin/env node
// The Node SDK runner of ftl-gate (runner protocol 1; README: "Runner protocol"). No dependencies, Node 18+.
//
//   node node.mjs <SDK module: a file, a package folder or a package name>
//
// Reads one JSON message per line on stdin, answers each with one line on stdout:
//   {"id", "hello": {protocol, sdk, version, package, errors}}   -> {"id", "result": {runner, sdk: {name, version, location}}}
//   {"id", "client", "factory", "args", "kwargs"}                  -> build a client from an export of the module
//   {"id", "client", "method": "training.listJobs", "args", "kwargs"} -> {"id", "result"} or {"id", "error": {...}}
// JavaScript has no keyword arguments: non-empty kwargs are passed as one more, last, object argument.
// Whatever the SDK prints goes to stderr, so it cannot break the protocol.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const PROTOCOL = 1;
const writeProtocol = process.stdout.write.bind(process.stdout);
const toStderr = (...parts) => process.stderr.write(format(...parts) + '\n');
for (const name of ['log', 'info', 'debug', 'warn', 'trace']) console[name] = toStderr;
process.stdout.write = (chunk, ...rest) => process.stderr.write(chunk, ...rest);

const spec = process.argv[2];
if (!spec) {
  process.stderr.write('usage: node node.mjs <SDK module: a file, a package folder or a package name>\n');
  process.exit(2);
}

class Trouble extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = `runner:${kind}`;
  }
}

function entryOfPackage(folder) {
  const manifestPath = path.join(folder, 'package.json');
  const pkg = fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, 'utf8')) : {};
  let entry = pkg.exports;
  if (entry && typeof entry === 'object' && '.' in entry) entry = entry['.'];
  if (entry && typeof entry === 'object') entry = entry.import ?? entry.default ?? entry.node ?? entry.require;
  entry = typeof entry === 'string' ? entry : pkg.module ?? pkg.main ?? 'index.js';
  return path.resolve(folder, entry);
}

function resolveModule(text) {
  const local = path.resolve(text);
  if (text.startsWith('.') || path.isAbsolute(text) || fs.existsSync(local)) {
    if (!fs.existsSync(local)) throw new Trouble('CannotLoad', `no file or folder ${local}`);
    return fs.statSync(local).isDirectory() ? entryOfPackage(local) : local;
  }
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  try {
    return entryOfPackage(path.dirname(require.resolve(`${text}/package.json`)));
  } catch {
    try {
      return require.resolve(text);
    } catch {
      throw new Trouble('CannotLoad', `cannot find ${text}: no file or folder ${local}, and no package of that name from ${process.cwd()}`);
    }
  }
}

function packageOf(file) {
  for (let folder = path.dirname(file); ; folder = path.dirname(folder)) {
    const candidate = path.join(folder, 'package.json');
    if (fs.existsSync(candidate)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8'));
        if (pkg.name || pkg.version) return { name: pkg.name ?? null, version: pkg.version ?? null };
      } catch {
        return { name: null, version: null };
      }
    }
    if (path.dirname(folder) === folder) return { name: null, version: null };
  }
}

const state = { module: null, location: null, clients: new Map(), errors: [] };

function lookup(root, dotted, what) {
  let node = root;
  for (const part of dotted.split('.')) {
    if (node === null || node === undefined) break;
    node = node[part];
  }
  if (node === undefined || node === null) throw new Trouble('NotFound', `${what} ${dotted} not found`);
  return node;
}

function isClass(value) {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

function argumentsOf(message) {
  const args = Array.isArray(message.args) ? [...message.args] : [];
  const kwargs = message.kwargs && typeof message.kwargs === 'object' ? message.kwargs : {};
  if (Object.keys(kwargs).length) args.push(kwargs);
  return args;
}

async function hello(body) {
  if (body.protocol !== PROTOCOL) throw new Trouble('Protocol', `this runner speaks protocol ${PROTOCOL}`);
  if (!state.module) {
    const file = resolveModule(spec);
    try {
      state.module = await import(pathToFileURL(file).href);
    } catch (error) {
      throw new Trouble('CannotLoad', `cannot load ${file}: ${error?.message ?? error}`);
    }
    state.location = file;
  }
  state.errors = [];
  for (const [name, declared] of Object.entries(body.errors ?? {})) {
    const typeName = declared?.type ?? name;
    const found = state.module[typeName.split('.')[0]] !== undefined
      ? lookup(state.module, typeName, 'error type')
      : globalThis[typeName];
    if (typeof found !== 'function') throw new Trouble('CannotLoad', `error type ${typeName} is neither an export of the SDK nor a global`);
    state.errors.push({ name, type: found, status: declared?.status ?? null });
  }
  const pkg = packageOf(state.location);
  return {
    runner: 'node',
    language: 'javascript',
    node: process.version,
    sdk: { name: pkg.name, version: pkg.version, location: state.location },
  };
}

async function build(message) {
  if (!state.module) throw new Trouble('BadMessage', 'hello comes first');
  const factory = lookup(state.module, String(message.factory), 'export');
  if (typeof factory !== 'function') throw new Trouble('NotFound', `export ${message.factory} is not a class or function`);
  const args = argumentsOf(message);
  state.clients.set(String(message.client), isClass(factory) ? new factory(...args) : await factory(...args));
  return null;
}

async function call(message) {
  const client = state.clients.get(String(message.client));
  if (client === undefined) throw new Trouble('NoSuchClient', `no client ${message.client} was built`);
  const parts = String(message.method).split('.');
  let owner = client;
  for (const part of parts.slice(0, -1)) owner = owner?.[part];
  const method = owner?.[parts.at(-1)];
  if (typeof method !== 'function') throw new Trouble('NoSuchMethod', `the SDK has no method ${message.method}`);
  return plain(await method.apply(owner, argumentsOf(message)));
}

function plain(value) {
  const seen = new WeakSet();
  const text = JSON.stringify(value, (key, item) => {
    if (typeof item === 'bigint') return item.toString();
    if (item instanceof Map) return Object.fromEntries(item);
    if (item instanceof Set) return [...item];
    if (item && typeof item === 'object') {
      if (seen.has(item)) throw new Trouble('NotJson', `the returned value is circular at ${key || 'the top'}`);
      seen.add(item);
    }
    return item;
  });
  return text === undefined ? null : JSON.parse(text);
}

function describe(error) {
  if (error instanceof Trouble) return { type: error.kind, status: null, message: error.message, fields: {} };
  const matches = [];
  let status = null;
  for (let proto = error === null || error === undefined ? null : Object.getPrototypeOf(Object(error)); proto; proto = Object.getPrototypeOf(proto)) {
    for (const declared of state.errors) {
      if (declared.type.prototype !== proto || matches.includes(declared.name)) continue;
      if (!matches.length && declared.status) status = error[declared.status] ?? null;
      matches.push(declared.name);
    }
  }
  if (!matches.length && typeof error?.status === 'number') status = error.status;
  const fields = {};
  if (error && typeof error === 'object') {
    for (const [key, value] of Object.entries(error)) {
      try {
        fields[key] = plain(value);
      } catch {
        fields[key] = String(value);
      }
    }
  }
  return {
    type: matches[0] ?? error?.constructor?.name ?? typeof error,
    matches,
    status: Number.isInteger(status) ? status : null,
    message: error?.message ?? String(error),
    fields,
  };
}

async function answer(line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    message = null;
  }
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    return { id: null, error: describe(new Trouble('BadMessage', 'a message is one JSON object per line')) };
  }
  try {
    if ('hello' in message) return { id: message.id, result: await hello(message.hello ?? {}) };
    if ('factory' in message) return { id: message.id, result: await build(message) };
    if ('method' in message) return { id: message.id, result: await call(message) };
    throw new Trouble('BadMessage', 'a message carries hello, factory or method');
  } catch (error) {
    return { id: message.id, error: describe(error) };
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  writeProtocol(JSON.stringify(await answer(line)) + '\n');
}
writeProtocol('', () => process.exit(0));
