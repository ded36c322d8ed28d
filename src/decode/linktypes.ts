/** LINKTYPE_* values (tcpdump.org/linktypes.html) that the decoder understands. */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_OPENBSD_12: 12,
  RAW_14: 14,
  RAW: 101,
  C_HDLC: 104,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

export const ETHERTYPE = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  MPLS: 0x8847,
  MPLS_MC: 0x8848,
  PPPOE_SESSION: 0x8864,
  TEB: 0x6558,
  ERSPAN_2: 0x88be,
  ERSPAN_3: 0x22eb,
} as const;
