/**
 * A small, fixed IP-to-region table shared by the seeded buyers and the risk screening mock: a
 * buyer "far from home" gets an address from another region's block, and the risk mock finds out
 * the way a real screen does — by looking the address up.
 */

export interface RegionBlock {
  region: string;
  /** First octet of the block's addresses. */
  firstOctet: number;
}

export const REGION_BLOCKS: readonly RegionBlock[] = [
  { region: 'CN-GD', firstOctet: 113 },
  { region: 'CN-SH', firstOctet: 116 },
  { region: 'CN-BJ', firstOctet: 123 },
  { region: 'CN-ZJ', firstOctet: 115 },
  { region: 'CN-SC', firstOctet: 118 },
  { region: 'CN-JS', firstOctet: 121 },
  { region: 'US-CA', firstOctet: 23 },
  { region: 'SG', firstOctet: 43 },
  { region: 'DE-BE', firstOctet: 85 },
];

export const HOME_REGIONS = REGION_BLOCKS.filter((block) => block.region.startsWith('CN')).map((block) => block.region);
export const ABROAD_REGIONS = REGION_BLOCKS.filter((block) => !block.region.startsWith('CN')).map((block) => block.region);

/** The region an IPv4 address belongs to, or undefined when it is in no known block. */
export function regionOfIp(ip: string): string | undefined {
  const firstOctet = Number(ip.split('.')[0]);
  return REGION_BLOCKS.find((block) => block.firstOctet === firstOctet)?.region;
}

/** An address inside the region's block; `unit` gives three seeded numbers in [0, 1). */
export function ipInRegion(region: string, unit: (part: string) => number): string {
  const block = REGION_BLOCKS.find((entry) => entry.region === region) ?? REGION_BLOCKS[0]!;
  const octet = (part: string): number => 1 + Math.floor(unit(part) * 253);
  return `${block.firstOctet}.${octet('ip2')}.${octet('ip3')}.${octet('ip4')}`;
}
