// What keeps a gateway conversation together across calls: which room a context id belongs
// to (per agent), and which agent tasks wait for the user's input (HITL). Bounded: the
// oldest entries are forgotten first.

interface WaitingTask {
  agentId: string;
  taskId: string;
  roomId: string;
  contextId: string;
}

class BoundedMap<V> {
  private readonly max: number;
  private readonly entries = new Map<string, V>();
  constructor(max: number) {
    this.max = Math.max(1, max);
  }
  get(key: string): V | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
}

export class Conversations {
  private readonly rooms: BoundedMap<string>;
  private readonly waitingTasks: BoundedMap<WaitingTask>;

  constructor(max: number) {
    this.rooms = new BoundedMap(max);
    this.waitingTasks = new BoundedMap(max);
  }

  roomFor(agentId: string, contextId: string): string | undefined {
    return this.rooms.get(`${agentId}\u0000${contextId}`);
  }

  rememberRoom(agentId: string, contextId: string, roomId: string): void {
    this.rooms.set(`${agentId}\u0000${contextId}`, roomId);
  }

  waiting(agentId: string, taskId: string): WaitingTask | undefined {
    return this.waitingTasks.get(`${agentId}\u0000${taskId}`);
  }

  markWaiting(task: WaitingTask): void {
    this.waitingTasks.set(`${task.agentId}\u0000${task.taskId}`, task);
  }

  clearWaiting(agentId: string, taskId: string): void {
    this.waitingTasks.delete(`${agentId}\u0000${taskId}`);
  }
}
