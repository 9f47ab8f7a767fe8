import { DbusConnection, DbusError } from './connection';
import type { Variant } from './marshal';

const MANAGER = { path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager' };
const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
const PROPS = 'org.freedesktop.DBus.Properties';

/** What the patcher reads about a unit. */
export interface UnitState {
  /** `active`, `activating`, `failed`, `inactive` … or `not-loaded` when systemd does not know it. */
  activeState: string;
  /** Automatic restarts since the unit was last started by hand (services only). */
  nRestarts: number;
  /** The invocation id of the current run, hex; changes on every start or restart. */
  invocationId: string;
  /** True when unit files changed on disk since the last daemon-reload. */
  needDaemonReload: boolean;
}

/**
 * The host's systemd manager, reached over its private socket
 * (`/run/systemd/private`) with the patcher's own D-Bus client. Unlike
 * `systemctl` inside a container, this never hits systemd's chroot check
 * ("Running in chroot, ignoring command"), and it needs no host binary.
 * Only root may connect. Calls run one after another; `close()` when done.
 */
export class Systemd {
  private constructor(private readonly bus: DbusConnection) {}

  /** Connects to `<hostRoot>/run/systemd/private`. */
  static async connect(socketPath: string, timeoutMs = 30_000): Promise<Systemd> {
    return new Systemd(await DbusConnection.open(socketPath, { timeoutMs }));
  }

  /** `systemctl daemon-reload`: resolves once systemd has re-read every unit file. */
  async reload(): Promise<void> {
    await this.bus.call({ ...MANAGER, member: 'Reload' });
  }

  /** Queues a restart of the unit (mode `replace`); resolves with the job path, not when the unit is up. */
  async restart(unit: string): Promise<string> {
    return (await this.bus.call({ ...MANAGER, member: 'RestartUnit', signature: 'ss', body: [unit, 'replace'] })).body[0] as string;
  }

  /** Queues a start of the unit (mode `replace`). */
  async start(unit: string): Promise<string> {
    return (await this.bus.call({ ...MANAGER, member: 'StartUnit', signature: 'ss', body: [unit, 'replace'] })).body[0] as string;
  }

  /** Queues a stop of the unit; a unit systemd does not know counts as stopped. */
  async stop(unit: string): Promise<void> {
    try {
      await this.bus.call({ ...MANAGER, member: 'StopUnit', signature: 'ss', body: [unit, 'replace'] });
    } catch (err) {
      if (!(err instanceof DbusError && err.name === 'org.freedesktop.systemd1.NoSuchUnit')) throw err;
    }
  }

  /** Reads ActiveState, NRestarts, InvocationID and NeedDaemonReload; `not-loaded` when systemd has no such unit loaded. */
  async state(unit: string): Promise<UnitState> {
    let path: string;
    try {
      path = (await this.bus.call({ ...MANAGER, member: 'GetUnit', signature: 's', body: [unit] })).body[0] as string;
    } catch (err) {
      if (err instanceof DbusError && err.name === 'org.freedesktop.systemd1.NoSuchUnit') {
        return { activeState: 'not-loaded', nRestarts: 0, invocationId: '', needDaemonReload: false };
      }
      throw err;
    }
    const get = async (iface: string, name: string): Promise<unknown> => {
      const reply = await this.bus.call({ path, interface: PROPS, member: 'Get', signature: 'ss', body: [iface, name] });
      return (reply.body[0] as Variant).value;
    };
    const id = (await get(UNIT_IFACE, 'InvocationID')) as number[];
    return {
      activeState: (await get(UNIT_IFACE, 'ActiveState')) as string,
      nRestarts: unit.endsWith('.service') ? ((await get(SERVICE_IFACE, 'NRestarts')) as number) : 0,
      invocationId: Buffer.from(id).toString('hex'),
      needDaemonReload: (await get(UNIT_IFACE, 'NeedDaemonReload')) as boolean,
    };
  }

  close(): void {
    this.bus.close();
  }
}
