// Drives a Xenia host with Xen Orchestra's `xen-api` client, as XO does:
// connect, let the event loop (event.inject, then get_all_records of every
// type, then event.from) fill the objects collection, check that the pool,
// the host and the control domain are there, then create a VM and rename it
// with xapi.call and wait until the collection shows each change.
//
// Usage: node xo-smoke.mjs URL [transport]   (transport: auto, json-rpc,
// xml-rpc; auto is what XO uses). Credentials: XO_USER (root) and
// XO_PASSWORD. Bounded by XO_TIMEOUT_MS (20000). Prints one JSON summary
// line on stdout and exits 0, or prints the error on stderr and exits 1.
import http from 'node:http'
import https from 'node:https'
import { createClient } from 'xen-api'

const url = process.argv[2]
const transport = process.argv[3] ?? 'auto'
const user = process.env.XO_USER ?? 'root'
const password = process.env.XO_PASSWORD ?? 'xenia'
const timeoutMs = Number(process.env.XO_TIMEOUT_MS ?? 20000)
const deadline = Date.now() + timeoutMs
const steps = []

function fail(error) {
  process.stderr.write(
    `xo-smoke: ${error?.stack ?? error} (code ${error?.code ?? '-'}, ` +
      `params ${JSON.stringify(error?.params ?? null)})\n` +
      `steps done: ${steps.join(', ')}\n`
  )
  process.exit(1)
}

const watchdog = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)

if (!url) fail(new Error('usage: xo-smoke.mjs URL [transport]'))

const xapi = createClient({
  url,
  auth: { user, password },
  allowUnauthorized: true,
  transport,
  // The host's SESSION_INVALID/connection errors should fail fast here.
  eventPollDelay: 500,
})

const objectsOf = type => Object.values(xapi.objects.all).filter(o => o.$type === type)

// Resolves when pred() returns a true value, checked now and at every change
// of the objects collection; rejects at the deadline.
function waitFor(what, pred) {
  return new Promise((resolve, reject) => {
    const events = ['add', 'update', 'remove']
    let timer
    const done = () => {
      clearTimeout(timer)
      events.forEach(e => xapi.objects.removeListener(e, check))
    }
    function check() {
      let v
      try {
        v = pred()
      } catch (error) {
        done()
        return reject(error)
      }
      if (v) {
        done()
        steps.push(what)
        resolve(v)
      }
    }
    timer = setTimeout(() => {
      done()
      reject(new Error('timed out waiting for ' + what))
    }, Math.max(0, deadline - Date.now()))
    events.forEach(e => xapi.objects.on(e, check))
    check()
  })
}

// A JSON-RPC call of our own (the client's logout at disconnect is not
// awaited): ends the session so that its blocked event.from returns.
function rawLogout(sessionId) {
  const u = new URL('./jsonrpc', url)
  const lib = u.protocol === 'https:' ? https : http
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 'bye',
    method: 'session.logout',
    params: [sessionId],
  })
  return new Promise(resolve => {
    const req = lib.request(
      u,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        rejectUnauthorized: false,
        timeout: 5000,
      },
      res => {
        res.resume()
        res.on('end', resolve)
      }
    )
    req.on('error', resolve)
    req.on('timeout', () => req.destroy())
    req.end(body)
  })
}

function vmRecord(name) {
  return {
    name_label: name,
    name_description: 'made by xo-smoke',
    user_version: 1,
    is_a_template: false,
    affinity: 'OpaqueRef:NULL',
    memory_static_max: 1073741824,
    memory_dynamic_max: 1073741824,
    memory_dynamic_min: 536870912,
    memory_static_min: 268435456,
    VCPUs_params: {},
    VCPUs_max: 2,
    VCPUs_at_startup: 1,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: 'BIOS order',
    HVM_boot_params: { order: 'dc' },
    platform: {},
    PCI_bus: '',
    other_config: { 'xo-smoke': 'yes' },
    recommendations: '',
  }
}

async function main() {
  await xapi.connect()
  steps.push('connected')
  const sessionId = xapi.sessionId
  await xapi.objectsFetched
  steps.push('objects fetched')

  const [pool, host, dom0] = await waitFor('pool, host and control domain', () => {
    const pools = objectsOf('pool')
    const hosts = objectsOf('host')
    const doms = objectsOf('VM').filter(vm => vm.is_control_domain)
    const complete = pools.length === 1 && hosts.length === 1 && doms.length === 1
    return complete && [pools[0], hosts[0], doms[0]]
  })
  if (pool.master !== host.$ref) {
    throw new Error(`pool.master ${pool.master} is not the host ${host.$ref}`)
  }
  if (dom0.resident_on !== host.$ref) {
    throw new Error('the control domain is not resident on the host')
  }

  const name = `xo-smoke ${Date.now()}`
  const vmRef = await xapi.call('VM.create', vmRecord(name))
  const created = await waitFor('the new VM (add event)', () => {
    const vm = xapi.objects.all[vmRef] ?? objectsOf('VM').find(o => o.$ref === vmRef)
    return vm?.name_label === name && vm
  })

  const renamed = `${name} renamed`
  await xapi.call('VM.set_name_label', vmRef, renamed)
  await waitFor(
    'the new name (mod event)',
    () => objectsOf('VM').find(o => o.$ref === vmRef)?.name_label === renamed
  )

  await xapi.call('VM.destroy', vmRef)
  await waitFor('the VM gone (del event)', () => !objectsOf('VM').some(o => o.$ref === vmRef))

  const types = new Set(Object.values(xapi.objects.all).map(o => o.$type))
  const summary = {
    url,
    transport,
    status: xapi.status,
    pool: pool.uuid,
    host: host.uuid,
    host_ref: host.$ref,
    control_domain: dom0.$ref,
    control_domain_uuid: dom0.uuid,
    created_vm: vmRef,
    created_uuid: created.uuid,
    created_other_config: created.other_config,
    renamed_to: renamed,
    types: [...types].sort(),
    objects: Object.keys(xapi.objects.all).length,
    api_version: `${host.API_version_major}.${host.API_version_minor}`,
    steps,
  }
  await xapi.disconnect()
  await rawLogout(sessionId)
  process.stdout.write(JSON.stringify(summary) + '\n')
  clearTimeout(watchdog)
  process.exit(0)
}

main().catch(fail)
