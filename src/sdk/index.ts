/** The agent SDK: write a contract-net bidder in a few lines. */

export * from '../protocol/index.ts';
export {
  type AgentSpec,
  type BidContext,
  type BidDecision,
  type CapabilitySpec,
  defaultTokenFile,
  deferred,
  defineAgent,
  type RunningAgent,
  type StartOptions,
  type WorkContext,
} from './define-agent.ts';
export { ManagerClient, ManagerError } from './manager-client.ts';
