import { neutral } from '@auris/eslint-config'

export default neutral(import.meta.dirname, { forbid: ['prom-client', '@auris/prom-exporter'] })
