import { z } from 'zod';
import { duration } from '../../config/duration';
import { parseEcrHost } from '../ecr-host';

/** An IAM role ARN, `arn:aws:iam::<12 digits>:role/<name>` (any partition). */
export const roleArn = () =>
  z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, { message: 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)' });

/** An ECR registry host (private, FIPS, dual-stack or public). */
export const ecrHost = () =>
  z.string().refine((h) => parseEcrHost(h) !== undefined, {
    message: 'not an ECR host (<account>.dkr.ecr.<region>.amazonaws.com, <account>.dkr-ecr.<region>.on.aws or public.ecr.aws)',
  });

/** A refresh skew: a positive duration (ms). */
export const skew = () => duration().refine((ms) => ms > 0, { message: 'must be more than 0' });
