"""mobs"""
