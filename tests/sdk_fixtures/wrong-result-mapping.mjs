// The SDK-shaped test module with the defect wrong-result-mapping.
import { build } from './sdk.mjs';

export const { FinetuneLabClient, FinetuneLabError } = build(['wrong-result-mapping']);
