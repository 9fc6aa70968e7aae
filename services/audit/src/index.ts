export type { AuditOptions } from './app.ts';
export { auditModule } from './module.ts';
