// The SDK-shaped test module with the defect lost-error-message.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['lost-error-message']);
