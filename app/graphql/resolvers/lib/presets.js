// Agent preset input rules, the same for create and update.
export const PRESET_FIELDS = {
  name: { required: true, maxLength: 100 },
  description: { maxLength: 1000 },
  configs: { required: true, maxJsonLength: 65536 },
  isDefault: { required: true },
  visibility: { required: true },
  tags: { required: true, maxItems: 20, itemMaxLength: 50 },
};
