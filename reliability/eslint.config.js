import { node } from '@auris/eslint-config'

export default node(import.meta.dirname)
